package platform

// UpgradeTrustDir holds the CA certificates (PEM files) the build trusts
// for HTTPS downloads of upgrade bundles, below the root: the only trust
// store of `xcommand SystemUnit Upgrade URL: "https://..."` and `upgrade
// URL`. It is kept apart from TrustDir, the licensing agent's, so that a
// manager CA does not vouch for download servers, nor the other way round.
const UpgradeTrustDir = "etc/vxway/upgrade-trust"
