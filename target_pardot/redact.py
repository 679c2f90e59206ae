"""Keep secrets out of every log line, whatever code path formats them."""

from __future__ import annotations

import logging
import re
import threading

MASK = "***"
#: Secrets at least this long are masked wherever they appear. Shorter ones (a mistake,
#: but it happens) are masked where they stand alone, between non-word characters:
#: masking every "ab" inside other words would make every log line unreadable.
_MIN_SECRET_LENGTH = 4


class SecretRedactor(logging.Filter):
    """A logging filter that masks every registered secret in the formatted message.

    The client never logs headers or bodies; this is the second line of defence, for
    messages written by libraries (urllib3 debug logs, exceptions from requests).
    """

    def __init__(self) -> None:
        super().__init__()
        self._secrets: tuple[str, ...] = ()
        self._short: re.Pattern[str] | None = None
        self._lock = threading.Lock()

    def add(self, *secrets: str) -> None:
        with self._lock:
            fresh = {s for s in secrets if s and len(s) >= _MIN_SECRET_LENGTH}
            self._secrets = tuple(sorted(set(self._secrets) | fresh, key=len, reverse=True))
            short = {s for s in secrets if s and len(s) < _MIN_SECRET_LENGTH}
            if short:
                known = self._short.pattern if self._short else ""
                alternatives = "|".join(re.escape(s) for s in sorted(short, key=len, reverse=True))
                pattern = f"{known}|{alternatives}" if known else alternatives
                self._short = re.compile(pattern)

    def known(self) -> tuple[str, ...]:
        """Every registered secret (tests check none reaches any output)."""
        return self._secrets

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        if self._short is not None:
            text = re.sub(rf"(?<!\w)(?:{self._short.pattern})(?!\w)", MASK, text)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if not self._secrets and self._short is None:
            return True
        message = record.getMessage()
        cleaned = self.redact(message)
        if record.exc_info and record.exc_info[1] is not None:
            cleaned_exc = self.redact(str(record.exc_info[1]))
            if cleaned_exc != str(record.exc_info[1]):
                record.exc_info = None
                record.exc_text = None
                cleaned = f"{cleaned} ({cleaned_exc})"
        if cleaned != message:
            record.msg = cleaned
            record.args = None
        return True


REDACTOR = SecretRedactor()


def install(logger: logging.Logger | None = None) -> None:
    """Attach the redactor to every handler of the root logger (and to ``logger``)."""
    targets = [logging.getLogger()]
    if logger is not None:
        targets.append(logger)
    for target in targets:
        for handler in target.handlers:
            if REDACTOR not in handler.filters:
                handler.addFilter(REDACTOR)
        if REDACTOR not in target.filters:
            target.addFilter(REDACTOR)
