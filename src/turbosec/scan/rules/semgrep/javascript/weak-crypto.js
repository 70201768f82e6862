// Test target for weak-crypto.yaml (semgrep --test); never executed.
const crypto = require("crypto");

function hashPassword(password) {
  // ruleid: turbosec.javascript.weak-password-hash
  return crypto.createHash("md5").update(password).digest("hex");
}

function register(user, form) {
  // ruleid: turbosec.javascript.weak-password-hash
  user.hash = crypto.createHash("sha1").update(form.password, "utf8").digest("hex");
}

function checksum(buffer) {
  // ok: turbosec.javascript.weak-password-hash
  return crypto.createHash("md5").update(buffer).digest("hex");
}

function strongPasswordHash(password, salt) {
  // ok: turbosec.javascript.weak-password-hash
  return crypto.scryptSync(password, salt, 64);
}

function legacyEncrypt(key, iv, text) {
  // ruleid: turbosec.javascript.weak-cipher
  const cipher = crypto.createCipheriv("des-ede3-cbc", key, iv);
  return cipher.update(text, "utf8", "hex") + cipher.final("hex");
}

function ecbEncrypt(key, text) {
  // ruleid: turbosec.javascript.weak-cipher
  const cipher = crypto.createCipheriv("aes-128-ecb", key, null);
  return cipher.update(text, "utf8", "hex") + cipher.final("hex");
}

function goodEncrypt(key, text) {
  const iv = crypto.randomBytes(12);
  // ok: turbosec.javascript.weak-cipher
  const cipher = crypto.createCipheriv("aes-256-gcm", key, iv);
  return [iv, cipher.update(text, "utf8"), cipher.final(), cipher.getAuthTag()];
}
