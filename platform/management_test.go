package platform

import (
	"testing"

	"vxway/xapi"
)

// TestManagementInterfaceXAPI: the interface needs its address first;
// both are saved and shown; a bad value changes nothing.
func TestManagementInterfaceXAPI(t *testing.T) {
	root := newTestRoot(t, "Expressway")
	var tree xapi.Tree
	RegisterXAPI(&tree, root, newTestClock(), Hooks{})
	serveLines(t, &tree, []lineCase{
		{"xconfiguration Interfaces Management Interface: eth1", ErrBadValue, "has no address"},
		{"xconfiguration Interfaces Management Address: 10.0.3.300/24", ErrBadValue, "IPv4 address"},
		{"xconfiguration Interfaces Management Address: 10.0.3.15", ErrBadValue, "prefix length"},
		{"xconfiguration Interfaces Management Address: 10.0.3.15/24", nil, `Address: "10.0.3.15/24"`},
		{"xconfiguration Interfaces Management Interface: eth2", ErrBadValue, "use eth1 or Off"},
		{"xconfiguration Interfaces Management Interface: eth1", nil, "Interface: eth1"},
		{`xconfiguration Interfaces Management Address: ""`, ErrBadValue, "Interface: Off"},
		{"xconfiguration Interfaces Management", nil, "*c xConfiguration Interfaces Management Interface: eth1"},
	})
	c, err := LoadManagementConfig(root)
	if err != nil || c.Interface != "eth1" || c.Address != "10.0.3.15/24" {
		t.Errorf("saved %+v, %v", c, err)
	}
	if err := writeFile(root+"/"+ManagementConfigPath, []byte(`{"interface": "eth1"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadManagementConfig(root); err == nil {
		t.Error("a file with the interface and no address was accepted")
	}
}
