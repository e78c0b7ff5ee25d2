// Package backup makes and restores backups of the device's configuration:
// the settings the factory reset knows as keep items (IP, DNS and NTP,
// passwords, certificates, SSH host keys, Service Select, Smart Licensing
// settings and registration), in one archive encrypted with AES-256-GCM
// under a key derived from a password with argon2id. A restore checks the
// whole archive first (format, software version, password, integrity, each
// file with its owner's parser), stages it, and applies it all or nothing
// at the next boot through a journal, before any service starts.
package backup
