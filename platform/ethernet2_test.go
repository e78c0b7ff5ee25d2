package platform

import (
	"testing"

	"vxway/xapi"
)

// TestEthernet2XAPI: Ethernet 2's address and mask are the management
// interface's address, one setting seen two ways; bad values change
// nothing.
func TestEthernet2XAPI(t *testing.T) {
	root := newTestRoot(t, "Expressway")
	var tree xapi.Tree
	RegisterXAPI(&tree, root, newTestClock(), Hooks{})
	serveLines(t, &tree, []lineCase{
		{"xconfiguration Ethernet 2 IP V4 SubnetMask: 255.255.255.0", ErrBadValue, "no address"},
		{"xconfiguration Ethernet 2 IP V4 Address: 10.0.4.300", ErrBadValue, "IPv4 address"},
		{"xconfiguration Ethernet 2 IP V4 Address: 10.0.4.1", nil, "*c xConfiguration Ethernet 2 IP V4 SubnetMask: 255.255.255.0"},
		{"xconfiguration Ethernet 2 IP V4 SubnetMask: 255.0.255.0", ErrBadValue, "mask"},
		{"xconfiguration Ethernet 2 IP V4 SubnetMask: 255.255.0.0", nil, "*c xConfiguration Ethernet 2 IP V4 Address: 10.0.4.1"},
		{"xconfiguration Interfaces Management", nil, `Address: "10.0.4.1/16"`},
		{"xconfiguration Ethernet 3 IP V4 Address: 10.0.5.1", ErrBadRequest, "Ethernet 2"},
		{"xconfiguration Ethernet 2 IP V4 Gateway: 10.0.4.254", ErrBadRequest, "Address and SubnetMask"},
		{"xconfiguration Ethernet 2", nil, "SubnetMask: 255.255.0.0"},
	})
	c, err := LoadManagementConfig(root)
	if err != nil || c.Interface != "" || c.Address != "10.0.4.1/16" {
		t.Errorf("saved %+v, %v", c, err)
	}
}
