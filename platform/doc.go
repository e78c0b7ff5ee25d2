// Package platform is the device's own state and identity: the image facts
// baked in at build time, the UDI serial, the alarm store, the device
// configuration (hostname, brand and type), the root and admin passwords,
// Service Select with its licensing rules, and VCS option keys. Every
// function takes the device's root directory, "/" on the device and a
// temporary directory in tests.
package platform
