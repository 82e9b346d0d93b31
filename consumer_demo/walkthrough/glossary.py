"""What each parameter and claim means, for someone who has never seen OAuth."""

AUTHORIZATION_PARAMETERS = {
    "response_type": "“code” asks for an authorization code: a short-lived, single-use ticket that the demo "
                     "will swap for tokens itself, so the tokens never pass through your browser.",
    "client_id": "Which application is asking. This is the demo's public name at the auth server; the "
                 "matching secret stays on the demo's server and is never sent to your browser.",
    "redirect_uri": "Where the auth server sends your browser back with the code. It must match, character "
                    "for character, an address registered for this client, so a code can't be sent elsewhere.",
    "scope": "The permissions the demo asks for (the boxes you ticked). You see them on the consent page; "
             "the tokens will carry exactly what you approve.",
    "state": "A random value the demo remembers in your session. It must come back unchanged: a callback "
             "with any other state was not started by you in this browser (cross-site request forgery), "
             "and the demo refuses it.",
    "code_challenge": "PKCE: the SHA-256 hash of a secret (the code verifier) that only the demo knows. "
                      "In step 4 the demo reveals the verifier; the auth server hashes it and compares. "
                      "Anyone who steals the code can't use it without the verifier.",
    "code_challenge_method": "“S256” says the challenge is a SHA-256 hash (the “plain” method, which sends "
                             "the secret itself, is refused by this auth server).",
    "nonce": "Another random value, which the auth server copies into the ID token. The demo checks it in "
             "step 4, so an ID token from some other login can't be passed off as this one.",
}

ID_TOKEN_CLAIMS = {
    "iss": "Issuer: who made the token. Must be this auth server.",
    "sub": "Subject: your permanent id at the auth server (usernames can change; this does not).",
    "aud": "Audience: who the token is meant for. Must be the demo's client_id.",
    "exp": "Expiry: after this moment the ID token must not be accepted.",
    "iat": "Issued at: when the token was made.",
    "auth_time": "When you actually typed your password.",
    "nonce": "The nonce from step 1, copied back: proves this token belongs to this login.",
    "at_hash": "Half of the SHA-256 of the access token: ties the ID token to the access token it came with.",
    "azp": "Authorized party: the client the token was issued to.",
    "jti": "A unique id for this token.",
}

TIME_CLAIMS = {"exp", "iat", "auth_time", "nbf"}
