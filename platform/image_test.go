package platform

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestLoadImageLicensing: the licensing facts are read without the rest
// of image.json, which LoadImageInfo requires.
func TestLoadImageLicensing(t *testing.T) {
	root := t.TempDir()
	if _, err := LoadImageLicensing(root); !errors.Is(err, ErrNoImageInfo) {
		t.Fatalf("without image.json: %v, want ErrNoImageInfo", err)
	}
	p := filepath.Join(root, ImageInfoPath)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(`{"licensing":{"direct_url":"https://ssm.example.test/its"}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	lic, err := LoadImageLicensing(root)
	if err != nil || lic.DirectURL != "https://ssm.example.test/its" {
		t.Errorf("LoadImageLicensing = %+v, %v", lic, err)
	}
	if _, err := LoadImageInfo(root); err == nil {
		t.Error("LoadImageInfo accepted an image.json without password hashes")
	}
	if err := os.WriteFile(p, []byte(`{"licensing":`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadImageLicensing(root); err == nil {
		t.Error("LoadImageLicensing accepted a truncated image.json")
	}
}
