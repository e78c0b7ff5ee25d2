package agentclient

import (
	"context"
	"net/http"
)

// BackupFiles are the files of the agent's state directory, by name, as a
// backup holds them.
type BackupFiles struct {
	Files map[string][]byte `json:"files"`
}

// MaxBackupFiles bounds the request that carries them to the agent.
const MaxBackupFiles = 1 << 20

// BackupFiles fetches the agent's files for a backup; only root's
// processes get them.
func (c *Client) BackupFiles(ctx context.Context) (map[string][]byte, error) {
	var f BackupFiles
	err := c.call(ctx, http.MethodGet, "/v1/backup", nil, &f)
	return f.Files, err
}

// CheckBackupFiles has the agent parse files of a backup as it would load
// them; the error lists every problem.
func (c *Client) CheckBackupFiles(ctx context.Context, files map[string][]byte) error {
	return c.call(ctx, http.MethodPost, "/v1/backup/check", BackupFiles{Files: files}, nil)
}
