"""The OAuth 2.0 JWT bearer flow: load the RSA key, sign the assertion, explain refusals.

Salesforce's server-to-server flow [doc: Salesforce Help, "OAuth 2.0 JWT Bearer Flow for
Server-to-Server Integration"]: the token request carries
``grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer`` and ``assertion=`` an RS256 JWT
whose claims are ``iss`` (the connected app's consumer key), ``sub`` (the user's
username), ``aud`` (the login host) and ``exp`` (a few minutes ahead). No client secret.

Everything here is pure but for reading ``private_key_path``; no message ever contains
the key, only the setting's name.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING

from target_pardot.errors import ConfigError

# jwt and cryptography are imported where a key is loaded or signed with: together they
# take about a tenth of a second to import, which every run would pay, and only runs
# with auth_flow jwt_bearer use them.
if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

JWT_BEARER_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
PRODUCTION_AUDIENCE = "https://login.salesforce.com"
SANDBOX_AUDIENCE = "https://test.salesforce.com"
#: Salesforce accepts an assertion whose exp is at most about three minutes ahead; a
#: little less leaves room for a clock that runs slightly fast.
ASSERTION_LIFETIME_SECONDS = 150
#: The smallest RSA key the flow should accept: shorter keys are breakable.
MIN_KEY_BITS = 2048

# Salesforce's texts for a refused assertion [rec: issue threads of real clients; doc:
# the OAuth errors page] and what each most likely means.
_HINTS = (
    (
        "hasn't approved",
        "The user in 'username' has not approved the connected app: set the app's "
        "'Permitted Users' to 'Admin approved users are pre-authorized' and give the "
        "user's profile or a permission set access to the app (or log in once as the "
        "user and approve it).",
    ),
    (
        "audience",
        "The assertion's audience did not match the login host: set 'sandbox' true for a "
        "sandbox (audience https://test.salesforce.com), false for production.",
    ),
    (
        # Salesforce's text for an expired assertion (docs/wire-contract.md, R2a).
        "expired authorization code",
        "The assertion had expired when Salesforce read it: check that this machine's "
        "clock is right (each assertion is valid for 150 seconds from its signing).",
    ),
    (
        "invalid assertion",
        "Salesforce could not verify the assertion: check that 'private_key' (or the file "
        "in 'private_key_path') is the key of the certificate uploaded to the connected "
        "app, and that this machine's clock is right (the assertion expires in minutes).",
    ),
    (
        "user",
        "Check 'username': it must be the exact Salesforce username of an active user "
        "of this org.",
    ),
)


def audience(sandbox: bool) -> str:
    return SANDBOX_AUDIENCE if sandbox else PRODUCTION_AUDIENCE


def read_private_key_text(private_key: str, private_key_path: str | None) -> tuple[str, str]:
    """The PEM text and the name of the setting it came from."""
    if private_key.strip():
        return private_key, "private_key"
    if not private_key_path:
        raise ConfigError(
            "auth_flow 'jwt_bearer' needs 'private_key' (the PEM text) or "
            "'private_key_path' (a file holding it)."
        )
    try:
        return Path(private_key_path).expanduser().read_text(encoding="utf-8"), (
            "private_key_path"
        )
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else "not text"
        raise ConfigError(
            f"Setting 'private_key_path' ({private_key_path}) cannot be read: {reason}."
        ) from None


def load_rsa_key(pem: str, setting: str) -> RSAPrivateKey:
    """Parse an unencrypted PEM private key; it must be RSA (Salesforce signs with RS256)."""
    from cryptography.exceptions import UnsupportedAlgorithm  # noqa: PLC0415 (see above)
    from cryptography.hazmat.primitives import serialization  # noqa: PLC0415
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey  # noqa: PLC0415

    text = pem.strip().replace("\\n", "\n")  # a key pasted into JSON with escaped newlines
    try:
        key = serialization.load_pem_private_key(text.encode("utf-8"), password=None)
    except TypeError:
        raise ConfigError(
            f"Setting '{setting}' holds an encrypted private key; give the key without a "
            "passphrase (e.g. `openssl rsa -in key.pem -out plain.pem`)."
        ) from None
    except (ValueError, UnsupportedAlgorithm):
        raise ConfigError(
            f"Setting '{setting}' is not a PEM private key (expected a block starting "
            "'-----BEGIN PRIVATE KEY-----' or '-----BEGIN RSA PRIVATE KEY-----')."
        ) from None
    if not isinstance(key, RSAPrivateKey):
        raise ConfigError(
            f"Setting '{setting}' holds a private key that is not RSA; the JWT "
            "bearer flow needs an RSA key (RS256)."
        )
    if key.key_size < MIN_KEY_BITS:
        raise ConfigError(
            f"Setting '{setting}' holds a {key.key_size}-bit RSA key; use at least "
            f"{MIN_KEY_BITS} bits."
        )
    return key


def build_assertion(
    key: RSAPrivateKey,
    *,
    client_id: str,
    username: str,
    audience: str,
    now: float | None = None,
) -> str:
    """The signed JWT for one token request (a fresh one each time: it expires in minutes)."""
    import jwt  # noqa: PLC0415 (imported when used: see the top of the module)

    issued = int(time.time() if now is None else now)
    claims = {
        "iss": client_id,
        "sub": username,
        "aud": audience,
        "exp": issued + ASSERTION_LIFETIME_SECONDS,
    }
    return jwt.encode(claims, key, algorithm="RS256")


def token_form(assertion: str) -> dict[str, str]:
    return {"grant_type": JWT_BEARER_GRANT, "assertion": assertion}


def explain_refusal(said: str, error: str, description: str) -> str:
    """One line naming the setting most likely at fault for a refused assertion."""
    if error == "invalid_client_id":
        return (
            f"{said}. Check 'client_id': it is the assertion's issuer and must be the "
            "connected app's consumer key."
        )
    lowered = description.lower()
    for marker, hint in _HINTS:
        if marker in lowered:
            return f"{said}. {hint}"
    return (
        f"{said}. Check 'username', 'private_key' (or 'private_key_path'), 'client_id' "
        "and 'sandbox', and that the connected app uses digital signatures with this "
        "key's certificate."
    )
