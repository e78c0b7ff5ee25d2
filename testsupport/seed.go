package testsupport

import (
	"crypto/ed25519"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"
)

// SeedSHA512Hash is a well-formed sha512-crypt hash, as a seed may give.
const SeedSHA512Hash = "$6$abcdefgh$urTQmzKrWEm2axsEZpqQcCdHkWvaAY7q6wGAo5saoG9mO8JDatWAxRFQz4/E9E6z.5Ssd.S3JKEVxgHOHDFdf."

// AuthorizedKey returns an ssh authorized_keys line with a fixed ed25519
// key.
func AuthorizedKey(t testing.TB) string {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(strings.NewReader(strings.Repeat("k", 64)))
	if err != nil {
		t.Fatal(err)
	}
	k, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k))) + " ops@example.test"
}

// FullSeed returns a provisioning seed that sets every section.
func FullSeed(t testing.TB) string {
	return `version = 1
instance_id = "site-a-001"

[system]
hostname = "expwy-a"
domain = "example.test"
brand = "Expressway"
type = "Expressway-E"

[network]
dhcp = false
address = "192.0.2.10/24"
gateway = "192.0.2.1"
dns_servers = ["10.0.2.2", "192.0.2.53"]
ntp_servers = ["ntp.example.test"]
search_domain = "corp.example.test"

[users.admin]
password = "Adm1n-secret"
ssh_authorized_keys = ["` + AuthorizedKey(t) + `"]

[users.root]
password = "` + SeedSHA512Hash + `"

[licensing]
transport = "onprem"
url = "https://ssm.example.test/SmartTransport"
token = "tok-abc-123"
hide_hostname = true
register = true
`
}
