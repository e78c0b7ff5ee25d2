// Package firstboot configures a new or freshly reset device once, from a
// provisioning seed: provision.toml (format: package seed) on a small FAT
// disk labelled VXPROV (like cloud-init's NoCloud seed), applied all or
// nothing: system identity, network, passwords and ssh keys, and the
// licensing transport and registration token. What was applied, and when,
// is kept in /data/provisioning/state.json, so a seed is applied once and a
// different seed on a provisioned device is refused.
package firstboot
