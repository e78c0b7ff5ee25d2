package agentclient

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"vxway/xapi"
)

// The `Alternates` xAPI: the cluster's name, secret and peers
// (xconfiguration) and the peers' state (xstatus).

// SecretShown is what the configuration shows for a secret that is set;
// the secret itself is never shown.
const SecretShown = "(set)"

func (x *xapiHandlers) alternatesConfig(ctx context.Context, req *xapi.Request, rel []string, out *xapi.Writer) error {
	if len(req.Args) > 1 {
		return fmt.Errorf("%w: set one Alternates setting at a time", ErrInvalidConfig)
	}
	if len(req.Args) == 1 {
		a := req.Args[0]
		leaf, err := clusterLeaf(rel, a.Name)
		if err != nil {
			return err
		}
		ci, err := x.c.SetCluster(ctx, leaf, a.Value)
		if err != nil {
			return err
		}
		writeClusterConfig(out, ci.Config, nil)
		return nil
	}
	ci, err := x.c.Cluster(ctx)
	if err != nil {
		return err
	}
	if !writeClusterConfig(out, ci.Config, req.Path) {
		return fmt.Errorf("%w: xconfiguration %s", xapi.ErrNotFound, strings.Join(req.Path, " "))
	}
	return nil
}

// clusterLeaf maps an xconfiguration path below Alternates and its
// argument to a SetCluster leaf.
func clusterLeaf(rel []string, arg string) (string, error) {
	switch {
	case xapi.PathIs(rel, "Cluster") && strings.EqualFold(arg, "Name"):
		return LeafClusterName, nil
	case xapi.PathIs(rel, "Cluster") && strings.EqualFold(arg, "Secret"):
		return LeafClusterSecret, nil
	case xapi.PathIs(rel, "Cluster") && strings.EqualFold(arg, "Lease"):
		return LeafClusterLease, nil
	case len(rel) == 2 && strings.EqualFold(rel[0], "Peer") && strings.EqualFold(arg, "Address"):
		n, err := strconv.Atoi(rel[1])
		if err != nil || n < 1 || n > MaxClusterPeers {
			return "", fmt.Errorf("%w: Alternates Peer %s; peers are numbered 1 to %d", ErrInvalidConfig, rel[1], MaxClusterPeers)
		}
		return LeafClusterPeer + " " + strconv.Itoa(n), nil
	}
	return "", fmt.Errorf("%w: xconfiguration Alternates %s %s; settings are Cluster Name, Cluster Secret, Cluster Lease and Peer 1..%d Address", xapi.ErrNotFound, strings.Join(rel, " "), arg, MaxClusterPeers)
}

// writeClusterConfig writes the settings under path (all when nil) and
// reports whether any was.
func writeClusterConfig(out *xapi.Writer, c ClusterConfig, path []string) bool {
	secret := ""
	if c.SecretSet {
		secret = SecretShown
	}
	lines := []struct{ path, value string }{
		{"Alternates Cluster Name", c.Name},
		{"Alternates Cluster Secret", secret},
		{"Alternates Cluster Lease", strconv.Itoa(c.LeaseSeconds)},
	}
	for i := range MaxClusterPeers {
		addr := ""
		if i < len(c.Peers) {
			addr = c.Peers[i]
		}
		lines = append(lines, struct{ path, value string }{fmt.Sprintf("Alternates Peer %d Address", i+1), addr})
	}
	prefix := strings.ToLower(strings.Join(path, " "))
	shown := false
	for _, l := range lines {
		if p := strings.ToLower(l.path); prefix == "" || p == prefix || strings.HasPrefix(p, prefix+" ") {
			out.Config(l.path, l.value)
			shown = true
		}
	}
	return shown
}

func (x *xapiHandlers) alternatesStatus(ctx context.Context, req *xapi.Request, rel []string, w *xapi.Writer) error {
	ci, err := x.c.Cluster(ctx)
	if err != nil {
		return err
	}
	s := ci.Status
	out := &statusLines{}
	out.Status("Alternates Cluster Name", s.Name)
	out.Status("Alternates Cluster State", s.State)
	out.Status("Alternates Cluster Reason", s.Reason)
	out.Status("Alternates Cluster Address", s.Address)
	out.StatusInt("Alternates Cluster Lease", int64(s.LeaseSeconds))
	for _, p := range s.Peers {
		q := fmt.Sprintf("Alternates Peer %d ", p.Slot)
		out.Status(q+"Address", p.Address)
		out.Status(q+"Node", p.Node)
		out.Status(q+"State", p.State)
		out.Status(q+"LastContact", stamp(p.LastContact))
		out.Status(q+"Reason", p.Reason)
	}
	return out.flush(w, req.Path)
}
