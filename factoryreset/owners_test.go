package factoryreset

import (
	"path"
	"reflect"
	"slices"
	"strings"
	"testing"
	"vxway/agent"
	"vxway/servercert"

	"vxway/login"
	"vxway/platform"
	"vxway/supervise"
)

// The keep-set names a few directories whose owners are too large to link
// into factory-reset (the licensing daemon, the SSH server, the web server,
// the supervisor). This
// test holds the names to the owners' constants, so a move is caught here.
func TestKeepSetMatchesOwners(t *testing.T) {
	want := map[Item]string{
		Licensing:    agent.StateDir + "/",
		SSHKeys:      login.HostKeyDir + "/",
		Certificates: path.Dir(servercert.CertPath) + "/",
		Logs:         supervise.LogDir + "/",
	}
	for item, dir := range want {
		if got := item.info().paths[0].Pattern; got != dir {
			t.Errorf("%s keeps %q; its owner names %q", item.info().name, got, dir)
		}
	}
	if path.Dir(servercert.KeyPath) != path.Dir(servercert.CertPath) {
		t.Errorf("the server key %s is outside the certificate directory", servercert.KeyPath)
	}
}

// BrandType keeps fields of system.json by their JSON names: each must be a
// field of platform.SystemConfig.
func TestBrandTypeFieldsExist(t *testing.T) {
	var tags []string
	rt := reflect.TypeFor[platform.SystemConfig]()
	for i := range rt.NumField() {
		tags = append(tags, strings.Split(rt.Field(i).Tag.Get("json"), ",")[0])
	}
	p := BrandType.info().paths[0]
	if p.Pattern != platform.SystemConfigPath {
		t.Fatalf("BrandType keeps %s, want %s", p.Pattern, platform.SystemConfigPath)
	}
	for _, f := range p.Fields {
		if !slices.Contains(tags, f) {
			t.Errorf("BrandType keeps field %q, which platform.SystemConfig does not have (it has %v)", f, tags)
		}
	}
}
