package firstboot

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"vxway/agentclient"
	"vxway/atomicfile"
)

// AgentWait bounds how long Finish waits for the licensing agent's socket.
const AgentWait = 20 * time.Second

// licensingAgent is the part of the agent's local API Finish uses
// (agentclient.Client).
type licensingAgent interface {
	SetConfig(ctx context.Context, leaf, value string) (agentclient.Config, error)
	Register(ctx context.Context, token string, reregister bool) (agentclient.Status, error)
}

// Finish hands the seed's [licensing] section to the licensing agent once
// the services run: it sets the transport and the privacy flag, then
// registers with the token when the seed asks for it. Init calls it after
// the services are up; it returns at once when the seed had no licensing
// or it was already handed over. The token is removed from the data
// partition once the agent has it, and never printed. The outcome is in
// `xstatus Provisioning` (Licensing).
func Finish(ctx context.Context, root string, log io.Writer) error {
	sock := filepath.Join(root, agentclient.SocketPath)
	return finish(ctx, root, log, agentclient.NewClient(sock), func(ctx context.Context) error {
		return agentclient.WaitSocket(ctx, sock, AgentWait)
	})
}

func finish(ctx context.Context, root string, log io.Writer, ag licensingAgent, wait func(context.Context) error) error {
	logf := func(format string, args ...any) { fmt.Fprintf(log, "firstboot: licensing: "+format+"\n", args...) }
	b, err := os.ReadFile(filepath.Join(root, LicensingPath))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading %s: %w", LicensingPath, err)
	}
	var pl pendingLicensing
	if err := json.Unmarshal(b, &pl); err != nil || pl.Licensing == nil {
		err = fmt.Errorf("decoding %s: %w", LicensingPath, errors.Join(err, errors.New("no licensing section")))
		logf("%v", err)
		return errors.Join(err, recordLicensing(root, LicensingFailed, err.Error()), removePending(root))
	}
	if err := wait(ctx); err != nil {
		// Kept for the next boot: the agent may come up then.
		logf("%v; trying again at the next boot", err)
		return errors.Join(err, recordLicensing(root, LicensingPending, err.Error()))
	}
	l := pl.Licensing
	c := l.Config
	leaves := [][2]string{}
	switch c.Mode {
	case agentclient.OnPrem:
		leaves = append(leaves, [2]string{agentclient.LeafURL, c.URL})
	case agentclient.Proxy:
		leaves = append(leaves,
			[2]string{agentclient.LeafProxyAddress, c.ProxyAddress},
			[2]string{agentclient.LeafProxyPort, strconv.Itoa(c.ProxyPort)},
			[2]string{agentclient.LeafProxyUsername, c.ProxyUsername},
			[2]string{agentclient.LeafProxyPassword, c.ProxyPassword})
	}
	hide := "Off"
	if c.HideHostname {
		hide = "On"
	}
	leaves = append(leaves, [2]string{agentclient.LeafMode, string(c.Mode)}, [2]string{agentclient.LeafHideHostname, hide})
	for _, lv := range leaves {
		if _, err := ag.SetConfig(ctx, lv[0], lv[1]); err != nil {
			if errors.Is(err, agentclient.ErrAgentDown) {
				logf("%v; trying again at the next boot", err)
				return errors.Join(err, recordLicensing(root, LicensingPending, err.Error()))
			}
			err = fmt.Errorf("setting %s: %w", lv[0], err)
			logf("%v", err)
			return errors.Join(err, recordLicensing(root, LicensingFailed, err.Error()), removePending(root))
		}
	}
	logf("transport %s set, hide hostname %s", c.Mode, hide)
	if !l.Register {
		return errors.Join(recordLicensing(root, LicensingConfigured, ""), removePending(root))
	}
	_, err = ag.Register(ctx, l.Token, false)
	switch {
	case err == nil:
		logf("registered")
		return errors.Join(recordLicensing(root, LicensingRegistered, ""), removePending(root))
	case errors.Is(err, agentclient.ErrPending):
		logf("the manager cannot be reached yet; the agent keeps retrying: %v", err)
		return errors.Join(recordLicensing(root, LicensingRetrying, err.Error()), removePending(root))
	case errors.Is(err, agentclient.ErrRegistered):
		logf("the device is already registered; the seed's token was not used")
		return errors.Join(recordLicensing(root, LicensingRegistered, "already registered; the token was not used"), removePending(root))
	case errors.Is(err, agentclient.ErrAgentDown):
		logf("%v; trying again at the next boot", err)
		return errors.Join(err, recordLicensing(root, LicensingPending, err.Error()))
	default:
		logf("registration failed: %v", err)
		return errors.Join(err, recordLicensing(root, LicensingFailed, err.Error()), removePending(root))
	}
}

func recordLicensing(root, result, detail string) error {
	st, err := LoadState(root)
	if err != nil {
		return err
	}
	st.Licensing, st.LicensingDetail = result, detail
	return saveState(root, st)
}

func removePending(root string) error {
	p := filepath.Join(root, LicensingPath)
	if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("removing %s: %w", p, err)
	}
	return atomicfile.SyncDir(filepath.Dir(p))
}
