// Package servercert owns the device's server certificate and key
// (data/certs/server.crt and server.key): the HTTPS web interface, SIP
// over TLS and the backup read them through this package, and it makes a
// self-signed end-entity certificate on first boot.
package servercert
