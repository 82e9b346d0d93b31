"""A fast, salted hash for server-generated client secrets.

Key stretching (PBKDF2's million iterations) protects low-entropy, human-chosen passwords from
offline guessing. Every client secret here is machine-generated with 384 bits of entropy or more
(the server's ~762, the seeded clients' 384): no number of iterations changes how hopeless guessing
it is, while every token, revocation and introspection call would pay them. A salted SHA-256 is
therefore as safe for such secrets and ~100,000x cheaper. Nobody types a secret: the forms and the
admin have no secret field, and Application.clean() refuses short, patterned or pasted-hash ones
(docs/auth-server.md, "Client secrets").
"""

import hashlib

from django.contrib.auth.hashers import BasePasswordHasher, mask_hash
from django.utils.crypto import constant_time_compare


class ClientSecretSHA256Hasher(BasePasswordHasher):
    algorithm = "client-secret-sha256"

    def encode(self, password, salt):
        self._check_encode_args(password, salt)
        digest = hashlib.sha256(f"{salt}${password}".encode()).hexdigest()
        return f"{self.algorithm}${salt}${digest}"

    def decode(self, encoded):
        algorithm, salt, digest = encoded.split("$", 2)
        assert algorithm == self.algorithm
        return {"algorithm": algorithm, "hash": digest, "salt": salt}

    def verify(self, password, encoded):
        decoded = self.decode(encoded)
        return constant_time_compare(encoded, self.encode(password, decoded["salt"]))

    def safe_summary(self, encoded):
        decoded = self.decode(encoded)
        return {"algorithm": decoded["algorithm"], "salt": mask_hash(decoded["salt"]), "hash": mask_hash(decoded["hash"])}

    def must_update(self, encoded):
        return False

    def harden_runtime(self, password, encoded):
        pass
