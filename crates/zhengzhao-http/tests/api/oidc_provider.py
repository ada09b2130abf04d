"""A small OpenID Connect provider for the holder sign-in tests, written
from the specs (OpenID Connect Core 1.0 and Discovery 1.0, RFC 6749,
RFC 7636 PKCE, RFC 7517/7518 JWK and RS256) with Python's standard library
and `cryptography`, sharing no code with the library.

    python3 oidc_provider.py CLIENT_ID CLIENT_SECRET

Listens on 127.0.0.1 on a free port and prints `PORT <n>` once ready.
It checks what a real provider checks: the client id and redirect URI,
`response_type=code`, the `openid` scope, a PKCE S256 challenge at the
authorization endpoint and its verifier at the token endpoint, the client's
secret (HTTP Basic), and that each code is redeemed once.

The test drives it through `POST /control` with a JSON object:
  {"login": {"sub": "...", "claims": {...}} | null,   who signs in next
   "misbehave": null | "wrong_nonce" | "wrong_audience" | "expired"
              | "foreign_key" | "wrong_issuer",      how the ID token is wrong
   "rotate_key": true}                               a new signing key now
and reads `GET /control/log`: what the token endpoint was sent and answered.
"""

import base64
import hashlib
import json
import secrets
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def new_key():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return {"kid": secrets.token_hex(8), "key": key}


def jwk(k):
    numbers = k["key"].public_key().public_numbers()
    size = lambda n: (n.bit_length() + 7) // 8
    return {
        "kty": "RSA",
        "use": "sig",
        "alg": "RS256",
        "kid": k["kid"],
        "n": b64url(numbers.n.to_bytes(size(numbers.n), "big")),
        "e": b64url(numbers.e.to_bytes(size(numbers.e), "big")),
    }


def sign_jwt(k, claims):
    header = {"alg": "RS256", "typ": "JWT", "kid": k["kid"]}
    signing_input = (
        b64url(json.dumps(header).encode()) + "." + b64url(json.dumps(claims).encode())
    )
    signature = k["key"].sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return signing_input + "." + b64url(signature)


class Provider:
    def __init__(self, client_id, client_secret):
        self.client_id = client_id
        self.client_secret = client_secret
        self.key = new_key()
        self.lock = threading.Lock()
        self.login = None
        self.misbehave = None
        self.codes = {}
        self.log = []
        self.issuer = None


PROVIDER = None


class Handler(BaseHTTPRequestHandler):
    def log_message(self, *args):
        pass

    def reply(self, status, body=None, headers=None):
        data = json.dumps(body).encode() if body is not None else b""
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if body is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        p = PROVIDER
        url = urllib.parse.urlsplit(self.path)
        q = dict(urllib.parse.parse_qsl(url.query))
        if url.path == "/.well-known/openid-configuration":
            return self.reply(200, {
                "issuer": p.issuer,
                "authorization_endpoint": p.issuer + "/authorize",
                "token_endpoint": p.issuer + "/token",
                "jwks_uri": p.issuer + "/jwks",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "code_challenge_methods_supported": ["S256"],
                "token_endpoint_auth_methods_supported": ["client_secret_basic"],
            })
        if url.path == "/jwks":
            with p.lock:
                return self.reply(200, {"keys": [jwk(p.key)]})
        if url.path == "/control/log":
            with p.lock:
                return self.reply(200, p.log)
        if url.path == "/authorize":
            return self.authorize(q)
        self.reply(404, {"error": "not_found"})

    def authorize(self, q):
        p = PROVIDER
        redirect = q.get("redirect_uri", "")
        problems = []
        if q.get("client_id") != p.client_id:
            problems.append("client_id")
        if q.get("response_type") != "code":
            problems.append("response_type")
        if "openid" not in q.get("scope", "").split():
            problems.append("scope")
        if q.get("code_challenge_method") != "S256" or len(q.get("code_challenge", "")) != 43:
            problems.append("pkce")
        if not q.get("state") or not q.get("nonce"):
            problems.append("state/nonce")
        if not redirect.startswith("http"):
            problems.append("redirect_uri")
        if problems:
            return self.reply(400, {"error": "invalid_request", "problems": problems})
        answer = {"state": q["state"]}
        with p.lock:
            if p.login is None:
                answer["error"] = "access_denied"
            else:
                code = secrets.token_urlsafe(24)
                p.codes[code] = {
                    "redirect_uri": redirect,
                    "challenge": q["code_challenge"],
                    "nonce": q["nonce"],
                    "login": p.login,
                    "misbehave": p.misbehave,
                }
                answer["code"] = code
        sep = "&" if "?" in redirect else "?"
        self.reply(302, None, {"Location": redirect + sep + urllib.parse.urlencode(answer)})

    def do_POST(self):
        p = PROVIDER
        length = int(self.headers.get("Content-Length", "0"))
        body = self.rfile.read(length)
        if self.path == "/control":
            ctl = json.loads(body)
            with p.lock:
                if "login" in ctl:
                    p.login = ctl["login"]
                if "misbehave" in ctl:
                    p.misbehave = ctl["misbehave"]
                if ctl.get("rotate_key"):
                    p.key = new_key()
            return self.reply(200, {})
        if self.path == "/token":
            return self.token(dict(urllib.parse.parse_qsl(body.decode())))
        self.reply(404, {"error": "not_found"})

    def client_authenticated(self):
        p = PROVIDER
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("Basic "):
            return False
        user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
        unquote = urllib.parse.unquote_plus
        return unquote(user) == p.client_id and unquote(password) == p.client_secret

    def token(self, form):
        p = PROVIDER
        entry = {"grant_type": form.get("grant_type"), "has_verifier": "code_verifier" in form}
        with p.lock:
            grant = p.codes.pop(form.get("code", ""), None)
            key = p.key
        verifier = form.get("code_verifier", "")
        challenge = b64url(hashlib.sha256(verifier.encode()).digest())
        if not self.client_authenticated():
            status, answer = 401, {"error": "invalid_client"}
        elif form.get("grant_type") != "authorization_code" or grant is None:
            status, answer = 400, {"error": "invalid_grant"}
        elif form.get("redirect_uri") != grant["redirect_uri"]:
            status, answer = 400, {"error": "invalid_grant", "error_description": "redirect_uri"}
        elif challenge != grant["challenge"]:
            status, answer = 400, {"error": "invalid_grant", "error_description": "PKCE"}
        else:
            status, answer = 200, self.tokens(grant, key)
        entry["status"] = status
        with p.lock:
            p.log.append(entry)
        self.reply(status, answer)

    def tokens(self, grant, key):
        p = PROVIDER
        now = int(time.time())
        bad = grant["misbehave"]
        claims = {
            "iss": p.issuer + ("/other" if bad == "wrong_issuer" else ""),
            "sub": grant["login"]["sub"],
            "aud": "someone-else" if bad == "wrong_audience" else p.client_id,
            "iat": now - 3600 if bad == "expired" else now,
            "exp": now - 60 if bad == "expired" else now + 300,
            "nonce": "not-the-nonce" if bad == "wrong_nonce" else grant["nonce"],
        }
        claims.update(grant["login"].get("claims", {}))
        signer = new_key() if bad == "foreign_key" else key
        return {
            "access_token": secrets.token_urlsafe(24),
            "token_type": "Bearer",
            "expires_in": 300,
            "id_token": sign_jwt(signer, claims),
        }


def main():
    global PROVIDER
    PROVIDER = Provider(sys.argv[1], sys.argv[2])
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    PROVIDER.issuer = "http://127.0.0.1:%d" % server.server_address[1]
    print("PORT %d" % server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
