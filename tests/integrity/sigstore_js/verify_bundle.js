// Verify a Sigstore bundle with @sigstore/verify, trusting one public key (PEM) and no
// transparency log, CT log or timestamp authority (thresholds 0): the key-based offline case.
// usage: node verify_bundle.js BUNDLE PUBLIC_KEY_PEM [ARTIFACT]
// prints OK (exit 0) or REJECT <code> <message> (exit 1)
"use strict";
const fs = require("fs");
const crypto = require("crypto");
const { Verifier, toSignedEntity, toTrustMaterial } = require("@sigstore/verify");
const { bundleFromJSON } = require("@sigstore/bundle");

const [bundlePath, keyPath, artifactPath] = process.argv.slice(2);
const publicKey = crypto.createPublicKey(fs.readFileSync(keyPath));
const noAuthorities = { certificateAuthorities: [], timestampAuthorities: [], tlogs: [], ctlogs: [] };
const trust = toTrustMaterial(noAuthorities, () => ({ publicKey, validFor: () => true }));
try {
  const bundle = bundleFromJSON(JSON.parse(fs.readFileSync(bundlePath, "utf8")));
  const artifact = artifactPath ? fs.readFileSync(artifactPath) : undefined;
  const verifier = new Verifier(trust, { tlogThreshold: 0, ctlogThreshold: 0, tsaThreshold: 0 });
  verifier.verify(toSignedEntity(bundle, artifact));
  console.log("OK");
} catch (error) {
  console.log(`REJECT ${error.code || error.name} ${error.message}`);
  process.exit(1);
}
