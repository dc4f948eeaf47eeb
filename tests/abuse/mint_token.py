"""Mints a Cognito-style access token signed with the emulator's own key (moto ships the
private JWK its user pools sign with), so the abuse suite can send tokens a client could
not get from Cognito: one not valid yet (`nbf` in the future), or one for another client.

usage: mint_token.py ISSUER CLIENT_ID USER GROUP NBF_OFFSET_SECONDS
"""

import gzip
import json
import os
import sys
import time

import moto.cognitoidp
from joserfc import jwk, jwt


def main() -> None:
    issuer, client_id, user, group, nbf_offset = sys.argv[1:6]
    resources = os.path.join(os.path.dirname(moto.cognitoidp.__file__), "resources")
    with gzip.open(os.path.join(resources, "jwks-private.json.gz")) as f:
        key = jwk.RSAKey.import_key(json.load(f))
    now = int(time.time())
    claims = {
        "iss": issuer,
        "sub": f"minted-{user}",
        "client_id": client_id,
        "token_use": "access",
        "username": user,
        "cognito:groups": [group],
        "iat": now,
        "nbf": now + int(nbf_offset),
        "exp": now + 3600,
    }
    # The key id moto's tokens carry (its public JWKS names it so).
    print(jwt.encode({"kid": "dummy", "alg": "RS256"}, claims, key))


if __name__ == "__main__":
    main()
