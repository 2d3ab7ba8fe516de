"""Benchmark: artifact verification vs raw signature verification, CRL loading, HSM signing.

    .venv/bin/python bench/bench_signing.py

1. Raw `cryptography` ECDSA P-256 verify rate over the same PAE bytes (the floor).
2. `maat.signing.verify.verify_artifact` over bundles signed by a P-256 code-signing
   certificate (no timestamp, a revocation source answering "good"), chain parsed once.
   1 and 2 run in 31 alternating rounds of 2,000 and the figure is the median of the
   per-round ratios: these virtual machines drift by tens of percent within a minute.
3. A 100,000-entry CRL: build, load into CrlIndex, serial lookups.
4. P-256 signing throughput in SoftHSM2 when it is installed.
"""

from __future__ import annotations

import hashlib
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from maat.signing import bundle as bundles
from maat.signing import x509build
from maat.signing.crl import CrlIndex, RevokedEntry, build_crl
from maat.signing.verify import RevocationAnswer, verify_artifact

GOOD = RevocationAnswer("good", None, None, "bench")


class Good:
    """A revocation source that knows every certificate is good (answers are immutable)."""

    def status(self, cert: object, at: datetime) -> RevocationAnswer:
        return GOOD


ROUNDS = 31


def rate(label: str, n: int, fn: object, *, quiet: bool = False) -> float:
    start = time.perf_counter()
    for i in range(n):
        fn(i)  # type: ignore[operator]
    elapsed = time.perf_counter() - start
    if not quiet:
        print(f"{label}: {n / elapsed:,.0f}/s")
    return n / elapsed


def main() -> None:
    now = datetime.now(UTC)
    root_key, inter_key, leaf_key = (ec.generate_private_key(ec.SECP256R1()) for _ in range(3))
    root = x509build.build_root(
        x509build.subject_name("Bench Root"),
        x509build.software_key(root_key),
        serial=x509build.random_serial(),
        not_before=now - timedelta(days=1),
        not_after=now + timedelta(days=365),
    )
    inter = x509build.build_intermediate(
        x509build.subject_name("Bench CA"),
        inter_key.public_key(),
        root,
        x509build.software_key(root_key),
        serial=x509build.random_serial(),
        not_before=now - timedelta(days=1),
        not_after=now + timedelta(days=365),
    )
    leaf = x509build.build_code_signing(
        x509build.subject_name("Bench Signer"),
        leaf_key.public_key(),
        inter,
        x509build.software_key(inter_key),
        serial=x509build.random_serial(),
        not_before=now - timedelta(days=1),
        not_after=now + timedelta(days=365),
        crl_url=None,
        ocsp_url=None,
    )
    sign = x509build.software_key(leaf_key).sign
    n = 2000
    files = [f"artifact {i}".encode() for i in range(n)]
    signed = []
    for i, data in enumerate(files):
        statement = bundles.statement_for(
            f"f{i}", hashlib.sha256(data).hexdigest(), {"signer": leaf.subject.rfc4514_string()}
        )
        signed.append(
            bundles.parse_bundle(
                bundles.sign_bundle(statement, sign, [leaf, inter], keyid="k"),
                source="bench",
                max_bytes=1 << 20,
            )
        )
    pub = leaf_key.public_key()
    pae_bytes = [bundles.pae(bundles.PAYLOAD_TYPE, b.payload) for b in signed]
    sigs = [b.signature.sig for b in signed]
    digests = [hashlib.sha256(d).digest() for d in files]
    names = [f"f{i}" for i in range(n)]
    roots, good = [root], Good()
    # The machines are shared virtual machines whose speed drifts by tens of percent within a
    # minute, so the two are timed in alternating rounds and each round gives one ratio.
    ratios, raws, maats = [], [], []
    for _ in range(ROUNDS):
        raw = rate(
            "raw cryptography P-256 verify",
            n,
            lambda i: pub.verify(sigs[i], pae_bytes[i], ec.ECDSA(hashes.SHA256())),
            quiet=True,
        )
        maat = rate(
            "maat verify_artifact",
            n,
            lambda i: verify_artifact(
                digests[i],
                names[i],
                signed[i],
                trust_roots=roots,
                now=now,
                revocation=good,
                revocation_mode="hard",
            ),
            quiet=True,
        )
        ratios.append(maat / raw)
        raws.append(raw)
        maats.append(maat)
    print(
        f"raw cryptography P-256 verify: median {statistics.median(raws):,.0f}/s over {ROUNDS} rounds"
    )
    print(
        f"maat verify_artifact (chain of 2 cached, revocation, no policy): "
        f"median {statistics.median(maats):,.0f}/s"
    )
    print(
        f"-> median of per-round ratios {100 * statistics.median(ratios):.0f} % of the raw verify rate "
        f"(min {100 * min(ratios):.0f} %, max {100 * max(ratios):.0f} %; target 80 %)"
    )

    entries = [
        RevokedEntry(x509build.random_serial(), now - timedelta(days=1), None)
        for _ in range(100_000)
    ]
    t = time.perf_counter()
    crl = build_crl(
        inter,
        x509build.software_key(inter_key),
        entries,
        this_update=now,
        next_update=now + timedelta(days=7),
        number=1,
    )
    print(f"build 100k-entry CRL: {time.perf_counter() - t:.2f} s")
    from cryptography.hazmat.primitives.serialization import Encoding

    der = crl.public_bytes(Encoding.DER)
    t = time.perf_counter()
    index = CrlIndex.load(der, issuer=inter)
    print(f"load 100k-entry CRL (parse, signature check, index): {time.perf_counter() - t:.2f} s")
    serials = [e.serial for e in entries[:10_000]]
    t = time.perf_counter()
    assert all(index.status(s) is not None for s in serials)
    print(f"serial lookup: {(time.perf_counter() - t) / len(serials) * 1e6:.2f} µs")

    try:
        from hsm_kit import softhsm_token
        from maat.adapters.keystore.pkcs11 import Pkcs11KeyStore
    except ImportError as exc:
        print(f"SoftHSM2 signing: skipped ({exc})")
        return
    try:
        with tempfile.TemporaryDirectory() as tmp, softhsm_token(Path(tmp)) as token:
            store = Pkcs11KeyStore(token.module, token.label, token.pin)
            store.generate("bench", "ec-p256")
            rate("SoftHSM2 P-256 signatures", 5000, lambda i: store.sign("bench", b"x" * 64))
            store.close()
    except BaseException as exc:  # pytest's Skipped is a BaseException: SoftHSM2 missing
        if type(exc).__name__ != "Skipped":
            raise
        print(f"SoftHSM2 signing: skipped ({exc})")


if __name__ == "__main__":
    main()
