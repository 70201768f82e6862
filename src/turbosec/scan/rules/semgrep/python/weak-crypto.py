# mypy: ignore-errors
# Test target for weak-crypto.yaml (semgrep --test); never imported.
import hashlib
import os

from Crypto.Cipher import AES, DES, ARC4
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes


def hash_password(password):
    # ruleid: turbosec.python.weak-password-hash
    return hashlib.md5(password.encode()).hexdigest()


def store_user(user, raw_password):
    # ruleid: turbosec.python.weak-password-hash
    user.pw_hash = hashlib.sha1(raw_password.encode("utf-8")).hexdigest()


def check_credentials(user, given):
    # ruleid: turbosec.python.weak-password-hash
    digest = hashlib.new("MD5", given.encode()).hexdigest()
    return digest == user.pw_hash


def digest_form(form):
    # ruleid: turbosec.python.weak-password-hash
    return hashlib.sha1(form.password.encode()).hexdigest()


def file_checksum(path):
    with open(path, "rb") as fh:
        # ok: turbosec.python.weak-password-hash
        return hashlib.md5(fh.read()).hexdigest()


def etag(body):
    # ok: turbosec.python.weak-password-hash
    return hashlib.sha1(body, usedforsecurity=False).hexdigest()


def strong_password_hash(password):
    salt = os.urandom(16)
    # ok: turbosec.python.weak-password-hash
    return salt + hashlib.scrypt(password.encode(), salt=salt, n=2**14, r=8, p=1)


def legacy_encrypt(key, data):
    # ruleid: turbosec.python.weak-cipher
    return DES.new(key, DES.MODE_CBC).encrypt(data)


def stream_encrypt(key, data):
    # ruleid: turbosec.python.weak-cipher
    return ARC4.new(key).encrypt(data)


def ecb_encrypt(key, data):
    # ruleid: turbosec.python.weak-cipher
    return AES.new(key, AES.MODE_ECB).encrypt(data)


def hazmat_ecb(key):
    # ruleid: turbosec.python.weak-cipher
    return Cipher(algorithms.AES(key), modes.ECB()).encryptor()


def hazmat_3des(key, iv):
    # ruleid: turbosec.python.weak-cipher
    return Cipher(algorithms.TripleDES(key), modes.CBC(iv)).encryptor()


def good_encrypt(key, nonce, data):
    # ok: turbosec.python.weak-cipher
    return AES.new(key, AES.MODE_GCM, nonce=nonce).encrypt_and_digest(data)
