"""The PKCS#11 key store: signing keys made and used inside a token, never read out.

Keys are generated in the token as a key pair with the same label and a random ``CKA_ID``.
The private key is ``CKA_TOKEN``, ``CKA_PRIVATE``, ``CKA_SENSITIVE``, not ``CKA_EXTRACTABLE``,
not ``CKA_MODIFIABLE``, may sign and do nothing else (no decrypt, unwrap or derive); after
generation the store reads ``CKA_SENSITIVE`` and ``CKA_EXTRACTABLE`` back and destroys the pair if
the token did not honour them (fail closed). The public key is stored next to it and read back
(EC point, RSA modulus and exponent) into a ``cryptography`` public key object.

Signing happens in the token. The store asks the token which mechanisms it offers and uses the
hashing ones when present (``CKM_ECDSA_SHA256`` / ``CKM_ECDSA_SHA384``, ``CKM_SHA256_RSA_PKCS``);
otherwise it hashes in Python and signs the digest with raw ``CKM_ECDSA`` or ``CKM_RSA_PKCS``
over a DigestInfo. SoftHSM 2.6 offers ``CKM_SHA256_RSA_PKCS`` but no hashing ECDSA mechanism,
so there ECDSA digests are computed in Python. ECDSA results (``r || s``) are returned
DER-encoded (RFC 3279 ``Ecdsa-Sig-Value``), exactly as ``cryptography`` produces them.

Sessions, logins and threads
----------------------------
PKCS#11 logins belong to the whole process, not to a session: the first ``C_Login`` logs every
session of the application in, and ``C_Logout`` (python-pkcs11 calls it when a logged-in
session closes) logs them all out. So every :class:`Pkcs11KeyStore` of this process that names
the same module and token shares one logged-in read/write session, opened lazily on first use
and closed when the last of those stores is closed. A store whose PIN differs from the one that
logged in is refused as if the token had rejected it.

python-pkcs11 initialises the module with ``C_Initialize(NULL)``, which promises the module that
it is never called from two threads at once (SoftHSM then turns its own locking off). One lock
per module therefore serialises every call into it; stores are safe to share between threads,
at the price of one signature at a time per module (a session pool is the next step should a
hardware HSM need parallelism). A session found dead (token removed, module re-initialised,
logged out from elsewhere) is reopened once, transparently.

A PIN the token rejects is remembered by the store, which refuses every later call without
asking the token again: retrying a wrong PIN would only count down to a locked token.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import pkcs11
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature
from pkcs11 import exceptions as p11
from pkcs11.constants import Attribute, MechanismFlag, ObjectClass
from pkcs11.mechanisms import KeyType, Mechanism
from pkcs11.types import Object, PrivateKey, Session, SignMixin

from maat.adapters.keystore._common import (
    MIN_RSA_BITS,
    Algorithm,
    KeyStoreError,
    check_algorithm,
    check_label,
    rsa_algorithm,
)
from maat.adapters.keystore._pkcs11_session import Key, Token, attach, detach, is_stale
from maat.errors import ConfigError, Conflict, MaatError, NotFound

if TYPE_CHECKING:
    from pkcs11._pkcs11 import lib as library_type

T = TypeVar("T")

# DER of the named-curve OIDs, as CKA_EC_PARAMS holds them.
EC_PARAMS = {
    "secp256r1": bytes.fromhex("06082a8648ce3d030107"),  # 1.2.840.10045.3.1.7
    "secp384r1": bytes.fromhex("06052b81040022"),  # 1.3.132.0.34
}
_CURVES: dict[bytes, tuple[str, ec.EllipticCurve]] = {
    EC_PARAMS["secp256r1"]: ("ec-p256", ec.SECP256R1()),
    EC_PARAMS["secp384r1"]: ("ec-p384", ec.SECP384R1()),
}
# DER DigestInfo prefix for SHA-256 (RFC 8017, section 9.2, note 1), for raw CKM_RSA_PKCS.
_SHA256_DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420")
_HASHING_ECDSA = {"sha256": Mechanism.ECDSA_SHA256, "sha384": Mechanism.ECDSA_SHA384}

_SETUP_HINT = (
    "set MAAT_PKCS11_MODULE (the module, e.g. /usr/lib/softhsm/libsofthsm2.so), "
    "MAAT_PKCS11_TOKEN (the token label) and MAAT_PKCS11_PIN or pkcs11.pin_file"
)


class Pkcs11KeyStore:
    """Signing keys in the PKCS#11 token ``token_label`` of the module ``module_path``.

    Nothing is loaded or opened until the first call; configuration problems (module missing,
    token not found, PIN rejected) surface there as :class:`~maat.errors.ConfigError` naming the
    setting to fix. Failures of the token itself raise :class:`KeyStoreError`. Close the store
    when done (it is also a context manager); a closed store reopens on its next use.
    """

    def __init__(self, module_path: str, token_label: str, pin: str) -> None:
        if not module_path:
            raise ConfigError(
                "no PKCS#11 module is configured", field="pkcs11.module", hint=_SETUP_HINT
            )
        if not token_label:
            raise ConfigError(
                "no PKCS#11 token is configured", field="pkcs11.token", hint=_SETUP_HINT
            )
        if not pin:
            raise ConfigError(
                "no PKCS#11 user PIN is configured", field="pkcs11.pin", hint=_SETUP_HINT
            )
        self._module_path = module_path
        self._resolved_path = os.path.realpath(module_path)
        self._token_label = token_label
        self._pin = pin.encode("utf-8")
        self._lock = threading.Lock()
        self._token: Token | None = None
        self._failure: MaatError | None = None

    def __enter__(self) -> Pkcs11KeyStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Pkcs11KeyStore(module={self._module_path!r}, token={self._token_label!r})"

    # --- the port ------------------------------------------------------------------------

    def generate(self, label: str, algorithm: str) -> None:
        """Generate the key pair ``label`` inside the token; ``Conflict`` if the label is taken."""
        check_label(label)
        chosen = check_algorithm(algorithm)

        def run(token: Token, session: Session) -> None:
            if list(session.get_objects({Attribute.LABEL: label})):
                raise Conflict(
                    f"token {self._token_label!r} already holds an object labelled {label!r}",
                    hint="choose another label; keys are never overwritten",
                )
            _, private = _generate_pair(session, label, chosen)
            _check_unexportable(session, private, label, self._token_label)

        self._run("generate a key", run)

    def public_key(self, label: str) -> PublicKeyTypes:
        """The public key ``label`` read from the token; ``NotFound`` if there is none."""
        check_label(label)

        def run(token: Token, session: Session) -> PublicKeyTypes:
            public = _find_one(session, ObjectClass.PUBLIC_KEY, label, self._token_label)
            if public is not None:
                return _public_key_from(public, label)
            private = _find_one(session, ObjectClass.PRIVATE_KEY, label, self._token_label)
            if private is None:
                raise self._not_found(label)
            if private[Attribute.KEY_TYPE] == KeyType.RSA:  # RSA private objects carry n and e
                return _public_key_from(private, label)
            raise KeyStoreError(
                f"token {self._token_label!r} holds the private key {label!r} "
                "but not its public key",
                hint="import the public key into the token with the same label",
            )

        return self._run("read a public key", run)

    def sign(self, label: str, data: bytes) -> bytes:
        """Sign ``data`` in the token with ``label``.

        ECDSA P-256 with SHA-256, P-384 with SHA-384 (DER ``Ecdsa-Sig-Value``), RSA with
        PKCS#1 v1.5 and SHA-256: what ``cryptography``'s ``verify()`` expects.
        """
        check_label(label)

        def run(token: Token, session: Session) -> bytes:
            found = token.keys.get(label)
            if found is None:
                found = self._signing_key(session, label)
                token.keys[label] = found
            return _sign(found, data, token.mechanisms, label, self._token_label)

        return self._run("sign", run)

    def labels(self) -> list[str]:
        """The labels of the private keys in the token, sorted."""

        def run(token: Token, session: Session) -> list[str]:
            found = session.get_objects({Attribute.CLASS: ObjectClass.PRIVATE_KEY})
            return sorted({str(obj[Attribute.LABEL]) for obj in list(found)} - {""})

        return self._run("list keys", run)

    def close(self) -> None:
        """Let go of the shared session; the last store using it logs out and closes it."""
        with self._lock:
            token, self._token = self._token, None
        if token is not None:
            detach(token)

    # --- internals -----------------------------------------------------------------------

    def _run(self, doing: str, operation: Callable[[Token, Session], T]) -> T:
        """Run ``operation`` under the module lock with a live session, translating errors."""
        if self._failure is not None:
            raise self._failure.with_traceback(None)
        with self._lock:
            if self._token is None:
                self._token = attach(self._resolved_path, self._token_label)
            token = self._token
        with token.module.lock:
            for attempt in (1, 2):
                session = self._session(token)
                try:
                    return operation(token, session)
                except p11.PKCS11Error as exc:
                    if attempt == 1 and is_stale(exc):
                        token.drop()
                        continue
                    raise self._translate(exc, doing) from None
        raise AssertionError("unreachable")  # pragma: no cover

    def _session(self, token: Token) -> Session:
        """The token's logged-in session, opening it (and logging in) if needed."""
        if token.session is not None and not token.alive():
            token.drop()  # the module was finalised: every handle is gone
        if token.session is not None:
            if not hmac.compare_digest(token.pin, self._pin):
                raise self._fail(
                    ConfigError(
                        f"the PIN for token {self._token_label!r} differs from the PIN this "
                        "process logged in with",
                        field="pkcs11.pin",
                        hint="every key store on one token must use the token's user PIN",
                    )
                )
            return token.session
        library = self._library()
        try:
            found = library.get_token(token_label=self._token_label)
            mechanisms = frozenset(found.slot.get_mechanisms())
        except p11.NoSuchToken:
            raise self._token_not_found(library) from None
        except p11.MultipleTokensReturned:
            raise ConfigError(
                f"several PKCS#11 tokens are labelled {self._token_label!r}",
                field="pkcs11.token",
                hint="relabel or remove the duplicates; Maat will not guess which holds its keys",
            ) from None
        except p11.PKCS11Error as exc:
            raise self._translate(exc, "find the token") from None
        try:
            session = found.open(rw=True, user_pin=self._pin.decode("utf-8"))
        except (p11.PinIncorrect, p11.PinInvalid, p11.PinLenRange):
            raise self._fail(
                ConfigError(
                    f"token {self._token_label!r} rejected the PIN",
                    field="pkcs11.pin",
                    hint="check MAAT_PKCS11_PIN or the file named by pkcs11.pin_file; repeated "
                    "wrong PINs lock the token, so this store will not try again",
                )
            ) from None
        except p11.PinLocked:
            raise self._fail(
                KeyStoreError(
                    f"the user PIN of token {self._token_label!r} is locked",
                    hint="the security officer must unlock it (softhsm2-util has no unlock: "
                    "set a new PIN with pkcs11-tool --init-pin --login --login-type so)",
                )
            ) from None
        except p11.UserPinNotInitialized:
            raise ConfigError(
                f"token {self._token_label!r} has no user PIN yet",
                field="pkcs11.token",
                hint="initialise it, e.g. softhsm2-util --init-token --free --label ... --pin ...",
            ) from None
        except (
            p11.UserAlreadyLoggedIn,
            p11.AnotherUserAlreadyLoggedIn,
            p11.SessionReadWriteSOExists,
        ):
            raise KeyStoreError(
                f"another part of this process is logged in to token {self._token_label!r}",
                hint="PKCS#11 logins are per process: open the token only through Maat's key "
                "store, or close the other session first",
            ) from None
        except p11.PKCS11Error as exc:
            raise self._translate(exc, "log in to the token") from None
        token.session = session
        token.library = library
        token.pin = self._pin
        token.mechanisms = mechanisms
        token.keys.clear()
        return session

    def _library(self) -> library_type:
        """The loaded, initialised module (python-pkcs11 keeps one per path per process)."""
        path = self._resolved_path
        if not os.path.isfile(path):
            raise ConfigError(
                f"PKCS#11 module {self._module_path} does not exist",
                field="pkcs11.module",
                hint="install it (Debian: apt install softhsm2 gives "
                "/usr/lib/softhsm/libsofthsm2.so) or set MAAT_PKCS11_MODULE to your HSM's module",
            )
        try:
            return pkcs11.lib(path)
        except p11.PKCS11Error as exc:
            raise ConfigError(
                f"PKCS#11 module {self._module_path} cannot be loaded or initialised: "
                f"{_describe(exc)}",
                field="pkcs11.module",
                hint="it must be a PKCS#11 library built for this machine; for SoftHSM also "
                "check that its configuration (SOFTHSM2_CONF, default /etc/softhsm/softhsm2.conf) "
                "and its token folder are readable by the user running Maat",
            ) from None

    def _token_not_found(self, library: library_type) -> ConfigError:
        try:
            present = sorted(
                slot.get_token().label for slot in library.get_slots(token_present=True)
            )
        except p11.PKCS11Error:
            present = []
        shown = ", ".join(repr(p) for p in present if p) or "none"
        return ConfigError(
            f"no PKCS#11 token labelled {self._token_label!r} in {self._module_path} "
            f"(tokens present: {shown})",
            field="pkcs11.token",
            hint="set MAAT_PKCS11_TOKEN to one of them, or create it: "
            f"softhsm2-util --init-token --free --label {self._token_label} ...",
        )

    def _signing_key(self, session: Session, label: str) -> Key:
        private = _find_one(session, ObjectClass.PRIVATE_KEY, label, self._token_label)
        if private is None:
            raise self._not_found(label)
        if not isinstance(private, SignMixin):
            raise KeyStoreError(
                f"key {label!r} in token {self._token_label!r} is not allowed to sign",
                hint="Maat signs only with keys whose CKA_SIGN is true; generate one with Maat",
            )
        return Key(private, _algorithm_of(private, label, self._token_label))

    def _not_found(self, label: str) -> NotFound:
        return NotFound(
            f"no key labelled {label!r} in token {self._token_label!r}",
            hint="generate it first, or check the label (labels are case-sensitive)",
        )

    def _fail(self, error: MaatError) -> MaatError:
        """Remember ``error`` so later calls raise it without asking the token again."""
        self._failure = error
        return error

    def _translate(self, exc: p11.PKCS11Error, doing: str) -> MaatError:
        """A Maat error a person can act on for a PKCS#11 error met while ``doing``."""
        where = f"token {self._token_label!r}"
        what = _describe(exc)
        if isinstance(exc, (p11.DeviceRemoved, p11.TokenNotPresent, p11.TokenNotRecognised)):
            return KeyStoreError(
                f"{where} is no longer present (while trying to {doing})",
                hint="reconnect the HSM or check that the token folder still exists",
            )
        if isinstance(exc, (p11.DeviceMemory, p11.HostMemory)):
            return KeyStoreError(
                f"{where} ran out of memory or storage (while trying to {doing})",
                hint="free space in the token (or the disk holding SoftHSM's token folder)",
            )
        if isinstance(exc, (p11.TokenWriteProtected, p11.SessionReadOnly)):
            return KeyStoreError(
                f"{where} is write-protected: cannot {doing}",
                hint="SoftHSM needs write access to its token folder",
            )
        if isinstance(exc, p11.UserNotLoggedIn):
            return KeyStoreError(
                f"{where} logged this process out (while trying to {doing})",
                hint="another component called C_Logout; retry, and open the token only "
                "through Maat's key store",
            )
        if isinstance(
            exc,
            (
                p11.MechanismInvalid,
                p11.MechanismParamInvalid,
                p11.KeySizeRange,
                p11.DomainParamsInvalid,
                p11.TemplateInconsistent,
                p11.TemplateIncomplete,
                p11.AttributeValueInvalid,
                p11.AttributeTypeInvalid,
                p11.FunctionNotSupported,
            ),
        ):
            return KeyStoreError(
                f"{where} does not support what Maat asked (while trying to {doing}): {what}",
                hint="the token lacks this algorithm or key attribute; choose another algorithm "
                "(ec-p256, ec-p384, rsa-3072) or check the HSM's mechanism list with "
                "pkcs11-tool --list-mechanisms",
            )
        return KeyStoreError(
            f"{where} failed to {doing}: {what}",
            hint=f"check the token with: pkcs11-tool --module {self._module_path} "
            "--list-token-slots (SoftHSM: softhsm2-util --show-slots)",
        )


# --- key generation, lookup, public keys and signatures ------------------------------------


def _generate_pair(session: Session, label: str, chosen: Algorithm) -> tuple[Object, PrivateKey]:
    key_id = os.urandom(16)
    public_template: dict[Attribute, Any] = {
        Attribute.TOKEN: True,
        Attribute.PRIVATE: False,
        Attribute.VERIFY: True,
        Attribute.ENCRYPT: False,
        Attribute.WRAP: False,
    }
    private_template: dict[Attribute, Any] = {
        Attribute.TOKEN: True,
        Attribute.PRIVATE: True,
        Attribute.SENSITIVE: True,
        Attribute.EXTRACTABLE: False,
        Attribute.MODIFIABLE: False,
        Attribute.SIGN: True,
        Attribute.DECRYPT: False,
        Attribute.UNWRAP: False,
        Attribute.DERIVE: False,
    }
    common: dict[str, Any] = {
        "id": key_id,
        "label": label,
        "store": True,
        "capabilities": MechanismFlag.SIGN | MechanismFlag.VERIFY,
        "public_template": public_template,
        "private_template": private_template,
    }
    if chosen.kind == "ec":
        public_template[Attribute.EC_PARAMS] = EC_PARAMS[chosen.curve]
        public, private = session.generate_keypair(
            KeyType.EC, mechanism=Mechanism.EC_KEY_PAIR_GEN, **common
        )
    else:
        public, private = session.generate_keypair(
            KeyType.RSA, chosen.bits, mechanism=Mechanism.RSA_PKCS_KEY_PAIR_GEN, **common
        )
    return public, private


def _check_unexportable(session: Session, private: Object, label: str, token_label: str) -> None:
    """Destroy the new pair unless the token reports the private key sensitive and unexportable."""
    values = private.get_attributes([Attribute.SENSITIVE, Attribute.EXTRACTABLE])
    if values.get(Attribute.SENSITIVE) is True and values.get(Attribute.EXTRACTABLE) is False:
        return
    for obj in list(session.get_objects({Attribute.LABEL: label})):
        obj.destroy()
    raise KeyStoreError(
        f"token {token_label!r} did not make key {label!r} sensitive and non-extractable; "
        "the key was destroyed",
        hint="use a PKCS#11 token that honours CKA_SENSITIVE and CKA_EXTRACTABLE",
    )


def _find_one(session: Session, cls: ObjectClass, label: str, token_label: str) -> Object | None:
    found = list(session.get_objects({Attribute.CLASS: cls, Attribute.LABEL: label}))
    if len(found) > 1:
        kind = "private" if cls == ObjectClass.PRIVATE_KEY else "public"
        raise KeyStoreError(
            f"token {token_label!r} holds {len(found)} {kind} keys labelled {label!r}",
            hint="remove the duplicates (pkcs11-tool --delete-object); Maat will not guess",
        )
    return found[0] if found else None


def _algorithm_of(private: Object, label: str, token_label: str) -> Algorithm:
    key_type = private[Attribute.KEY_TYPE]
    if key_type == KeyType.EC:
        params = bytes(private[Attribute.EC_PARAMS])
        if params in _CURVES:
            return check_algorithm(_CURVES[params][0])
    elif key_type == KeyType.RSA:
        bits = int.from_bytes(bytes(private[Attribute.MODULUS]), "big").bit_length()
        if bits >= MIN_RSA_BITS:
            return rsa_algorithm(bits)
    raise KeyStoreError(
        f"key {label!r} in token {token_label!r} is of a type Maat does not sign with",
        hint="Maat signs with EC P-256, EC P-384 and RSA of at least 2048 bits",
    )


def _public_key_from(obj: Object, label: str) -> PublicKeyTypes:
    key_type = obj[Attribute.KEY_TYPE]
    try:
        if key_type == KeyType.RSA:
            modulus = int.from_bytes(bytes(obj[Attribute.MODULUS]), "big")
            exponent = int.from_bytes(bytes(obj[Attribute.PUBLIC_EXPONENT]), "big")
            return rsa.RSAPublicNumbers(exponent, modulus).public_key()
        if key_type == KeyType.EC:
            params = bytes(obj[Attribute.EC_PARAMS])
            if params in _CURVES:
                curve = _CURVES[params][1]
                point = _unwrap_ec_point(bytes(obj[Attribute.EC_POINT]), curve.key_size)
                return ec.EllipticCurvePublicKey.from_encoded_point(curve, point)
    except ValueError as exc:
        raise KeyStoreError(
            f"the public key {label!r} in the token is malformed: {exc}",
            hint="the object was not made by Maat or the token is damaged",
        ) from None
    raise KeyStoreError(
        f"the public key {label!r} is of a type Maat does not use",
        hint="Maat uses EC P-256, EC P-384 and RSA keys",
    )


def _unwrap_ec_point(value: bytes, curve_bits: int) -> bytes:
    """The SEC 1 point from ``CKA_EC_POINT``: DER OCTET STRING (the standard) or raw."""
    size = (curve_bits + 7) // 8
    if len(value) in (1 + 2 * size, 1 + size) and value[0] in (2, 3, 4):
        return value  # raw point, as some tokens return it
    if len(value) >= 2 and value[0] == 0x04:
        length, start = value[1], 2
        if length == 0x81 and len(value) >= 3:
            length, start = value[2], 3
        if len(value) == start + length:
            return value[start:]
    raise ValueError("CKA_EC_POINT is neither a DER OCTET STRING nor a point")


def _sign(
    found: Key, data: bytes, mechanisms: frozenset[Mechanism], label: str, token_label: str
) -> bytes:
    chosen = found.algorithm
    if chosen.kind == "ec":
        hashing = _HASHING_ECDSA[chosen.hash_name]
        if hashing in mechanisms:
            raw = found.key.sign(data, mechanism=hashing)
        else:
            digest = hashlib.new(chosen.hash_name, data).digest()
            raw = found.key.sign(digest, mechanism=Mechanism.ECDSA)
        size = chosen.coordinate_bytes
        if len(raw) != 2 * size:
            raise KeyStoreError(
                f"token {token_label!r} returned a {len(raw)}-byte ECDSA signature for "
                f"{label!r}, expected {2 * size}",
                hint="the token's ECDSA output is not the PKCS#11 r||s format",
            )
        r = int.from_bytes(raw[:size], "big")
        s = int.from_bytes(raw[size:], "big")
        return encode_dss_signature(r, s)
    if Mechanism.SHA256_RSA_PKCS in mechanisms:
        return found.key.sign(data, mechanism=Mechanism.SHA256_RSA_PKCS)
    digest_info = _SHA256_DIGEST_INFO + hashlib.sha256(data).digest()
    return found.key.sign(digest_info, mechanism=Mechanism.RSA_PKCS)


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    name = type(exc).__name__
    return f"{name}: {text}" if text else name
