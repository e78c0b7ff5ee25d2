package image

import (
	"crypto/ed25519"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"vxway/appconfig"
	"vxway/atomicfile"
	"vxway/bundle"
	"vxway/slot"
)

// DevKeyName is the development signing key a build makes next to its
// output when appliance.toml names no upgrade signing key.
const DevKeyName = "upgrade-dev.key"

// BundlePath is where a build writes its upgrade bundle: next to the
// image, named after the software version.
func BundlePath(output, version string) string {
	return filepath.Join(filepath.Dir(output), "vxway-"+version+".vxu")
}

// SigningKey returns the key that signs the build's bundle: the config's
// upgrade.signing_key_file, or else the development key in outDir (made
// on first use, with its public half beside it). With the development key
// the config is changed to name it, so the image trusts it, and the build
// says that it is for development only.
func SigningKey(c *appconfig.Config, outDir string, log io.Writer) (ed25519.PrivateKey, error) {
	if c.Upgrade.SigningKeyFile != "" {
		return appconfig.ReadSigningKey(c.Upgrade.SigningKeyFile)
	}
	if c.Build.Release {
		return nil, fmt.Errorf("a release build needs upgrade.signing_key_file")
	}
	p := filepath.Join(outDir, DevKeyName)
	made := false
	if _, err := os.Stat(p); os.IsNotExist(err) {
		if err := MakeKeyPair(p); err != nil {
			return nil, err
		}
		made = true
	}
	k, err := appconfig.ReadSigningKey(p)
	if err != nil {
		return nil, fmt.Errorf("the development key: %w (remove it to make a new one)", err)
	}
	c.Upgrade.SigningKeyFile = p
	verb := "using"
	if made {
		verb = "made"
	}
	fmt.Fprintf(log, "  upgrade bundles: %s the development signing key %s (key id %s): for development only; set [upgrade] signing_key_file for real builds (vxway keygen)\n",
		verb, p, bundle.KeyID(k.Public().(ed25519.PublicKey)))
	return k, nil
}

// MakeKeyPair writes a new signing key to path (mode 0600) and its public
// half to path with .pub instead of .key. Existing files are never
// overwritten.
func MakeKeyPair(path string) error {
	pubPath := PublicKeyPath(path)
	for _, p := range []string{path, pubPath} {
		if _, err := os.Stat(p); err == nil {
			return fmt.Errorf("%s exists; remove it or choose another name (a signing key is never overwritten)", p)
		}
	}
	k, err := bundle.GenerateKey()
	if err != nil {
		return err
	}
	priv, err := bundle.MarshalPrivatePEM(k)
	if err != nil {
		return err
	}
	pub, err := bundle.MarshalPublicPEM(k.Public().(ed25519.PublicKey))
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("creating %s: %w", filepath.Dir(path), err)
	}
	if err := atomicfile.WriteFile(path, priv, 0o600); err != nil {
		return err
	}
	return atomicfile.WriteFile(pubPath, pub, 0o644)
}

// PublicKeyPath is the public half's file of a key file: x.key -> x.pub.
func PublicKeyPath(keyPath string) string {
	ext := filepath.Ext(keyPath)
	return keyPath[:len(keyPath)-len(ext)] + ".pub"
}

// BundleInput is what goes into a bundle.
type BundleInput struct {
	Product, Version, Cmdline string
	BuildTime                 time.Time
	Kernel, Initramfs         string // files
}

// WriteBundle writes the signed bundle to path atomically and returns its
// manifest as signed.
func WriteBundle(path string, key ed25519.PrivateKey, in BundleInput) ([]byte, error) {
	open := func(p string) func() (io.ReadCloser, error) {
		return func() (io.ReadCloser, error) { return os.Open(p) }
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return nil, fmt.Errorf("bundle %s is not writable: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	m, err := bundle.Write(tmp, key, bundle.Manifest{
		Product: in.Product, Version: in.Version, BuildEpoch: in.BuildTime.Unix(), Cmdline: in.Cmdline,
	}, []bundle.Source{
		{Name: bundle.PartKernel, Open: open(in.Kernel)},
		{Name: bundle.PartInitramfs, Open: open(in.Initramfs)},
	})
	if err != nil {
		tmp.Close()
		return nil, fmt.Errorf("writing the bundle: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return nil, fmt.Errorf("syncing %s: %w", tmp.Name(), err)
	}
	if err := tmp.Chmod(0o644); err != nil {
		tmp.Close()
		return nil, err
	}
	if err := tmp.Close(); err != nil {
		return nil, err
	}
	if err := os.Chtimes(tmp.Name(), in.BuildTime, in.BuildTime); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return nil, fmt.Errorf("moving the bundle to %s: %w", path, err)
	}
	return m.Marshal()
}

// SlotESPFiles are a slot's files on the ESP as the build writes them:
// the entry (marked good, install sequence 1), kernel, initramfs and
// manifest.
func SlotESPFiles(n slot.Name, version, cmdline, kernel, initrd string, manifest []byte) []ESPFile {
	return []ESPFile{
		{Path: "/" + slot.EntriesDir + "/" + slot.EntryFile(n, -1, -1), Data: []byte(slot.Entry(n, version, 1, cmdline))},
		{Path: "/" + n.ID() + "/" + bundle.PartKernel, Source: kernel},
		{Path: "/" + n.ID() + "/" + bundle.PartInitramfs, Source: initrd},
		{Path: "/" + n.ID() + "/" + slot.ManifestFile, Data: manifest},
	}
}
