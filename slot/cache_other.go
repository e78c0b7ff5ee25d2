//go:build !linux

package slot

import "os"

// dropCache does nothing where the page cache cannot be dropped per file.
func dropCache(*os.File) {}
