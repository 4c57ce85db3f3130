"""Command line: ``elicence verify`` (QR payloads, QR images, SD-JWT VC presentations) and
``elicence verifier sync``.

Exit codes of ``verify``: 0 valid, 1 invalid (the outcome code is printed) or input refused
(an image file that cannot be read or is no PNG/JPEG, a payload too long: the reason is printed),
2 usage error (bad options, no bundle).
"""

from __future__ import annotations

import json
import stat
import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from ._verify import Policy, VerificationResult, verify_payload
from .bundle import Bundle, BundleError, load_root_key, sync_bundle
from .image import MAX_IMAGE_BYTES, ImageUnreadable, read_qr_text

EXIT_VALID, EXIT_INVALID, EXIT_USAGE = 0, 1, 2
DEFAULT_BUNDLE = Path("data/verifier-bundle")
BUNDLE_ENV = "ELICENCE_VERIFIER_BUNDLE"
_DEFAULTS = Policy()
# A payload on stdin is read up to this: far above the 4,296 characters a QR code holds, so
# ``decode_qr`` gives the precise refusal, while ``verify - < /dev/zero`` ends at once.
MAX_STDIN_CHARS = 64 * 1024

BundleOption = Annotated[
    Path,
    typer.Option("--bundle", envvar=BUNDLE_ENV, help="Verifier bundle directory (from sync)."),
]


def _fail(message: str, code: int) -> typer.Exit:
    typer.echo(f"error: {message}", err=True)
    return typer.Exit(code)


def _file_kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "a device"


def _read_image_file(path: Path) -> bytes:
    """At most ``MAX_IMAGE_BYTES + 1`` bytes of the regular file ``path``, so that a bigger one
    is refused by the image check without being read whole. A directory, FIFO (which would
    block until a writer comes) or device (``/dev/zero`` never ends) is refused unopened.
    Raises ``typer.Exit`` (exit 1) with the reason.
    """
    try:
        mode = path.stat().st_mode
        if not stat.S_ISREG(mode):
            raise _fail(
                f"cannot read {path}: not a regular file ({_file_kind(mode)})", EXIT_INVALID
            )
        with path.open("rb") as file:
            return file.read(MAX_IMAGE_BYTES + 1)
    except OSError as exc:
        raise _fail(f"cannot read {path}: {exc.strerror}", EXIT_INVALID) from None


def _read_stdin_payload() -> str:
    text = sys.stdin.read(MAX_STDIN_CHARS + 1)
    if len(text) > MAX_STDIN_CHARS:
        raise _fail(f"payload on stdin longer than {MAX_STDIN_CHARS} characters", EXIT_INVALID)
    return text


def _print_result(result: VerificationResult) -> None:
    if result.valid:
        kind = (
            "static copy (not presented by its holder)"
            if result.kind == "static"
            else ("holder presentation")
        )
        typer.echo(f"VALID: {kind}")
    else:
        typer.echo(f"INVALID: {result.outcome}: {result.detail}")
    lic = result.licence
    if lic is not None:
        undisclosed = "(not disclosed)"
        typer.echo(
            f"  holder      {lic.holder_name or undisclosed} ({lic.masked_id or undisclosed})"
        )
        typer.echo(f"  licence     {lic.type_name or lic.type_code} [{lic.type_code}] {lic.number}")
        if lic.identifier is not None:
            typer.echo(f"  identifier  {lic.identifier}")
        if lic.categories:
            typer.echo(f"  categories  {', '.join(lic.categories)}")
        for name, value in lic.fields.items():
            typer.echo(f"  {name:<11} {value}")
        typer.echo(f"  department  {lic.department_name or lic.department_code}")
        typer.echo(
            "  valid       "
            f"{time.strftime('%Y-%m-%d', time.gmtime(lic.not_before))} to "
            f"{time.strftime('%Y-%m-%d', time.gmtime(lic.expires_at))}"
        )
    if result.status_age is not None:
        typer.echo(f"  status age  {result.status_age} s")
    for check in result.checks:
        mark = "ok " if check.passed else "FAIL"
        typer.echo(f"  [{mark}] {check.name}" + ("" if check.code == "ok" else f": {check.code}"))


def verify_command(
    payload: Annotated[
        str | None,
        typer.Argument(
            help="QR payload text (EL1:... or EP1:...) or an SD-JWT VC presentation "
            "(<issuer-jwt>~<disclosures>~<kb-jwt>); - reads stdin."
        ),
    ] = None,
    image: Annotated[
        Path | None, typer.Option("--image", help="PNG or JPEG photo of the QR code.")
    ] = None,
    bundle: BundleOption = DEFAULT_BUNDLE,
    now: Annotated[
        int | None, typer.Option("--now", help="Fixed clock, epoch seconds (default: now).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
    challenge: Annotated[
        str | None,
        typer.Option(
            "--challenge", help="The challenge this counter gave (SD-JWT VC: the KB-JWT's nonce)."
        ),
    ] = None,
    audience: Annotated[
        str | None,
        typer.Option("--audience", help="SD-JWT VC: the aud its KB-JWT must carry."),
    ] = None,
    require_presentation: Annotated[
        bool,
        typer.Option("--require-presentation", help="Refuse static (printed) copies."),
    ] = False,
    max_presentation_age: Annotated[
        int, typer.Option("--max-presentation-age", min=1, help="Seconds.")
    ] = _DEFAULTS.max_presentation_age,
    max_status_age: Annotated[
        int, typer.Option("--max-status-age", min=1, help="Seconds.")
    ] = _DEFAULTS.max_status_age,
) -> None:
    """Verify a licence QR payload or SD-JWT VC presentation offline, from the synced bundle."""
    if (payload is None) == (image is None):
        raise _fail("give either a PAYLOAD or --image FILE", EXIT_USAGE)
    if image is not None:
        try:
            text = read_qr_text(_read_image_file(image))
        except ImageUnreadable as exc:
            raise _fail(f"{exc.code}: {exc}", EXIT_INVALID) from None
        if text is None:
            typer.echo("INVALID: no_qr_code: no QR code found in the image")
            raise typer.Exit(EXIT_INVALID)
    else:
        text = _read_stdin_payload() if payload == "-" else str(payload)
    try:
        loaded = Bundle.load(bundle)
    except BundleError as exc:
        raise _fail(exc.detail, EXIT_USAGE) from None
    policy = Policy(
        max_presentation_age=max_presentation_age,
        max_status_age=max_status_age,
        require_presentation=require_presentation,
    )
    result = verify_payload(
        text,
        trust=loaded.trust,
        status=loaded.status,
        now=(lambda: now) if now is not None else (lambda: int(time.time())),
        policy=policy,
        challenge=challenge,
        audience=audience,
        credential_issuer=loaded.credential_issuer,
    )
    if as_json:
        typer.echo(json.dumps(result.to_json(), ensure_ascii=False, indent=2))
    else:
        _print_result(result)
    raise typer.Exit(EXIT_VALID if result.valid else EXIT_INVALID)


def sync_command(
    source: Annotated[
        str, typer.Option("--from", help="Base URL of the issuer (serves /trust-list).")
    ],
    bundle: BundleOption = DEFAULT_BUNDLE,
    root_key_file: Annotated[
        Path | None,
        typer.Option("--root-key", help="Root public key JWK file (as `elicence root-key`)."),
    ] = None,
    root_thumbprint: Annotated[
        str | None,
        typer.Option("--root-thumbprint", help="RFC 7638 thumbprint (base64url) of the root."),
    ] = None,
    credential_issuer: Annotated[
        str | None,
        typer.Option(
            "--credential-issuer",
            help="The registry's public base URL, the iss of its SD-JWT VCs, when --from is "
            "another address of it (default: the --from URL).",
        ),
    ] = None,
) -> None:
    """Fetch and check the trust list and status lists into the verifier bundle."""
    if not source.startswith(("http://", "https://")):
        raise _fail("--from must be an http:// or https:// URL", EXIT_USAGE)
    if credential_issuer is not None and not credential_issuer.startswith(("http://", "https://")):
        raise _fail("--credential-issuer must be an http:// or https:// URL", EXIT_USAGE)
    root_key = None
    if root_key_file is not None:
        try:
            root_key = load_root_key(root_key_file.read_bytes())
        except OSError as exc:
            raise _fail(f"cannot read {root_key_file}: {exc.strerror}", EXIT_USAGE) from None
        except BundleError as exc:
            raise _fail(exc.detail, EXIT_USAGE) from None
    try:
        report = sync_bundle(
            source=source,
            bundle_dir=bundle,
            root_key=root_key,
            root_thumbprint_text=root_thumbprint,
            credential_issuer=credential_issuer,
        )
    except BundleError as exc:
        usage = exc.code in ("root_key_required", "bad_root_key")
        raise _fail(
            f"sync refused ({exc.code}): {exc.detail}", EXIT_USAGE if usage else 1
        ) from None
    typer.echo(
        f"synced {report.path}: {report.departments} departments, {report.keys} keys, "
        f"{len(report.status_lists)} status lists; root {report.root_thumbprint}"
    )


verifier_app = typer.Typer(help="Verifier bundle: sync the trust list and status lists.")
verifier_app.command("sync")(sync_command)

app = typer.Typer(help="Verify e-licences offline.", no_args_is_help=True)
app.command("verify")(verify_command)
app.add_typer(verifier_app, name="verifier")
