package ssm

import (
	"strings"
	"testing"
)

func TestRedactDSN(t *testing.T) {
	for _, tc := range []struct {
		name, dsn, want string
	}{
		{"user password", "postgres://ssm:s3cret@db.example:5432/ssm", "postgres://ssm:xxxxx@db.example:5432/ssm"},
		{"query password", "postgres://ssm@db.example/ssm?sslmode=require&password=s3cret", "postgres://ssm@db.example/ssm?sslmode=require&password=xxxxx"},
		{"both", "postgresql://ssm:s3cret@db/ssm?password=s3cret", "postgresql://ssm:xxxxx@db/ssm?password=xxxxx"},
		{"escaped key", "postgres://db/ssm?pass%77ord=s3cret", "postgres://db/ssm?password=xxxxx"},
		{"no password", "postgres://ssm@db/ssm?sslmode=disable", "postgres://ssm@db/ssm?sslmode=disable"},
		{"unparsable", "postgres://ssm:s3cret@db:port/ssm", "postgres://*** (unparsable URL hidden)"},
		{"sqlite path", "/srv/ssm/ssm.db", "/srv/ssm/ssm.db"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := RedactDSN(tc.dsn)
			if got != tc.want {
				t.Errorf("RedactDSN(%q) = %q, want %q", tc.dsn, got, tc.want)
			}
			if strings.Contains(got, "s3cret") {
				t.Errorf("RedactDSN(%q) shows the password: %q", tc.dsn, got)
			}
		})
	}
}
