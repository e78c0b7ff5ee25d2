package image

// The default kernel is the vmlinuz file of this module. Importing its
// (empty) Go package keeps the module and its checksum in go.mod and go.sum,
// so `go mod tidy` cannot drop the pin and every build uses the same kernel.
import _ "github.com/gokrazy/kernel.amd64"
