"""The voicemail spool on disk, in Asterisk's layout (``app_voicemail.c`` with file storage).

::

    <root>/<context>/<box>/INBOX/msg0000.WAV   one file per format of voicemail.conf format=
    <root>/<context>/<box>/INBOX/msg0000.gsm
    <root>/<context>/<box>/INBOX/msg0000.txt   the [message] section, written last
    <root>/<context>/<box>/Old/...             also Work, Family, Friends, Cust1..5, Urgent
    <root>/<context>/<box>/unavail.<ext>       greetings: unavail, busy, greet, temp
    <root>/<context>/<box>/tmp/                files being written (Asterisk's own tmp dir)

A message exists when its ``msgNNNN.txt`` exists (Asterisk counts messages by their ``.txt``
files). Every change keeps that true at each instant, so a crash (SIGKILL) at any point
leaves either the old state or the new one, plus garbage that :meth:`Spool.cleanup` removes:

- deposit: every format is written under a random name in ``tmp/`` (fsynced), hard-linked to
  ``msgNNNN.<ext>`` with no-replace semantics, then the ``.txt`` is linked the same way, last;
  the temporary names are unlinked afterwards. Leftovers: files in ``tmp/`` and sound files
  without a ``.txt`` ("orphans").
- delete: the ``.txt`` goes first, then the sound files; renumbering moves each later message
  down with the same link-then-unlink order (a crash may leave a message twice, never none).
- move: the message is linked into the destination folder (sound files, then ``.txt``), then
  deleted from the source as above.

Directories are created mode 0700 and files 0600. One lock per mailbox (``context``, ``box``)
serialises the changes inside the process; the methods are synchronous and meant to be called
from a worker thread (``asyncio.to_thread``).
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import os
import re
import secrets
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
import numpy.typing as npt

from switchboard.services.voicemail import formats
from switchboard.services.voicemail.formats import SoundFormatError, SpoolError

__all__ = [
    "FOLDERS",
    "GREETINGS",
    "MailboxFullError",
    "Message",
    "MessageInfo",
    "Spool",
    "SpoolError",
    "make_msg_id",
    "read_sound",
]

log = logging.getLogger(__name__)

Samples = npt.NDArray[np.int16]

FOLDERS: tuple[str, ...] = (
    "INBOX",
    "Old",
    "Work",
    "Family",
    "Friends",
    "Cust1",
    "Cust2",
    "Cust3",
    "Cust4",
    "Cust5",
    "Urgent",
)
"""Asterisk's mailbox folders (``mailbox_folders`` in app_voicemail.c, without Deleted)."""

GREETINGS: tuple[str, ...] = ("unavail", "busy", "greet", "temp")
"""Greeting file names in the mailbox directory (``greet`` is the recorded name)."""

DIR_MODE = 0o700
FILE_MODE = 0o600
TMP_DIR = "tmp"
_MESSAGE_NAME = re.compile(r"^msg(\d{4})\.(.+)$")
_HEADER = ";\n; Message Information file\n;\n[message]\n"
_msg_id_counter = itertools.count()
_msg_id_lock = threading.Lock()


def make_msg_id(origtime: int) -> str:
    """A message id as Asterisk makes one (``generate_msg_id``): time and a process counter."""
    with _msg_id_lock:
        counter = next(_msg_id_counter) & 0xFFFFFFFF
    return f"{origtime}-{counter:08x}"


class MailboxFullError(SpoolError):
    """A folder holds ``maxmsg`` messages already."""


@dataclass(frozen=True, slots=True)
class MessageInfo:
    """The ``[message]`` section of ``msgNNNN.txt``, keys in the order Asterisk writes them."""

    origmailbox: str
    context: str
    macrocontext: str
    exten: str
    rdnis: str
    priority: int
    callerchan: str
    callerid: str
    origdate: str
    origtime: int
    category: str
    msg_id: str
    flag: str
    duration: int

    def to_text(self) -> str:
        """The file's text: Asterisk's comment header, ``[message]``, one ``key=value`` each.

        Line breaks inside a value are replaced by spaces: a value cannot add keys."""
        lines = [_HEADER]
        for field in fields(self):
            value = str(getattr(self, field.name))
            value = value.replace("\r", " ").replace("\n", " ")
            lines.append(f"{field.name}={value}\n")
        return "".join(lines)

    @classmethod
    def from_text(cls, text: str) -> MessageInfo:
        """Parse a ``msgNNNN.txt``; missing keys get empty or zero values, unknown keys are
        ignored, numbers that do not parse read as 0 (Asterisk's ``atoi``)."""
        values: dict[str, str] = {}
        section = ""
        for raw in text.splitlines():
            line = raw.strip()
            if not line or line.startswith(";"):
                continue
            if line.startswith("[") and line.endswith("]"):
                section = line[1:-1].strip()
                continue
            if section == "message" and "=" in line:
                key, _, value = line.partition("=")
                values.setdefault(key.strip(), value.strip())
        kwargs: dict[str, str | int] = {}
        for field in fields(cls):
            value = values.get(field.name, "")
            kwargs[field.name] = _atoi(value) if field.type in ("int", int) else value
        return cls(**kwargs)  # type: ignore[arg-type]


def _atoi(value: str) -> int:
    match = re.match(r"^[+-]?\d+", value.strip())
    return int(match.group()) if match else 0


@dataclass(frozen=True, slots=True)
class Message:
    """One stored message: its number in its folder (0-based, ``msg0000``) and its metadata."""

    number: int
    folder: str
    base: Path
    info: MessageInfo


def read_sound(base: Path, order: Sequence[str] = formats.READ_ORDER) -> Samples | None:
    """Decode ``base.<ext>`` for the first extension of ``order`` that exists; None if none."""
    for ext in order:
        path = base.with_name(f"{base.name}.{ext}")
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            continue
        return formats.decode(ext, data)
    return None


class Spool:
    """The spool under ``root``, writing every format of ``formats`` (voicemail.conf names)."""

    def __init__(self, root: Path, formats_: Sequence[str], *, fsync: bool = True) -> None:
        if not formats_:
            raise SoundFormatError("no voicemail format given (voicemail.conf format= is empty)")
        self.root = Path(root)
        self.formats: tuple[str, ...] = tuple(dict.fromkeys(formats_))
        self.extensions: tuple[str, ...] = tuple(formats.extension(f) for f in self.formats)
        self._fsync = fsync
        self._locks: dict[tuple[str, str], threading.RLock] = {}
        self._locks_guard = threading.Lock()

    # --- paths and locks -----------------------------------------------------------------

    def box_dir(self, context: str, box: str) -> Path:
        return self.root / _component(context, "context") / _component(box, "mailbox")

    def folder_dir(self, context: str, box: str, folder: str) -> Path:
        if folder not in FOLDERS:
            raise SpoolError(f"unknown voicemail folder {folder!r} (expected one of {FOLDERS})")
        return self.box_dir(context, box) / folder

    @contextlib.contextmanager
    def lock(self, context: str, box: str) -> Iterator[None]:
        """Hold the mailbox's lock (re-entrant) across several calls, e.g. list then delete."""
        with self._locks_guard:
            lock = self._locks.setdefault((context, box), threading.RLock())
        with lock:
            yield

    # --- reading -------------------------------------------------------------------------

    def messages(self, context: str, box: str, folder: str = "INBOX") -> list[Message]:
        """The complete messages of a folder (those with a ``.txt``), by number."""
        directory = self.folder_dir(context, box, folder)
        found = []
        for number in _numbers(directory, txt_only=True):
            base = directory / f"msg{number:04d}"
            try:
                text = base.with_suffix(".txt").read_text(encoding="utf-8", errors="replace")
            except FileNotFoundError:  # deleted since listed
                continue
            found.append(Message(number, folder, base, MessageInfo.from_text(text)))
        return found

    def count(self, context: str, box: str, folder: str = "INBOX") -> int:
        return len(_numbers(self.folder_dir(context, box, folder), txt_only=True))

    def counts(self, context: str, box: str) -> tuple[int, int]:
        """(new, old) for MWI: new = INBOX + Urgent, old = Old."""
        new = self.count(context, box, "INBOX") + self.count(context, box, "Urgent")
        return new, self.count(context, box, "Old")

    def samples(self, message: Message) -> Samples:
        """The message's audio, from the best format on disk (lossless, G.711, then GSM)."""
        samples = read_sound(message.base)
        if samples is None:
            raise SpoolError(f"message {message.base} has no sound file")
        return samples

    # --- deposit -------------------------------------------------------------------------

    def deposit(
        self,
        context: str,
        box: str,
        samples: npt.ArrayLike,
        info: MessageInfo,
        *,
        maxmsg: int = 100,
        folder: str = "INBOX",
    ) -> Message | None:
        """Store a message in every format; None when the folder holds ``maxmsg`` already.

        The sound is encoded before the mailbox is locked; the message gets the first free
        number and becomes visible only when its ``.txt`` is linked, last."""
        directory = self.folder_dir(context, box, folder)
        encoded = [(ext, formats.encode(ext, samples)) for ext in self.extensions]
        with self.lock(context, box):
            if self.count(context, box, folder) >= maxmsg:
                log.info("mailbox %s@%s %s is full (%d messages)", box, context, folder, maxmsg)
                return None
            tmp = self._tmp_dir(context, box)
            _makedirs(directory)
            temps: list[tuple[Path, str]] = []
            try:
                for ext, data in encoded:
                    temps.append((self._write_temp(tmp, ext, data), ext))
                txt = self._write_temp(tmp, "txt", info.to_text().encode("utf-8"))
                temps.append((txt, "txt"))
                number = self._first_free(directory)
                self._publish(temps, directory / f"msg{number:04d}")
            finally:
                for path, _ in temps:
                    _unlink(path)
        log.info("voicemail deposited in %s@%s %s as msg%04d", box, context, folder, number)
        return Message(number, folder, directory / f"msg{number:04d}", info)

    def _tmp_dir(self, context: str, box: str) -> Path:
        tmp = self.box_dir(context, box) / TMP_DIR
        _makedirs(tmp)
        return tmp

    def _write_temp(self, tmp: Path, ext: str, data: bytes) -> Path:
        path = tmp / f"{secrets.token_hex(8)}.{ext}"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        try:
            os.fchmod(fd, FILE_MODE)
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            if self._fsync:
                os.fsync(fd)
        except BaseException:
            os.close(fd)
            _unlink(path)
            raise
        os.close(fd)
        return path

    def _first_free(self, directory: Path) -> int:
        taken = set(_numbers(directory, txt_only=True))
        number = next(n for n in itertools.count() if n not in taken)
        # Sound files at a number without .txt are leftovers of a crash: we hold the lock.
        self._remove_files(directory, number, keep_txt=True)
        return number

    def _publish(self, files: Sequence[tuple[Path, str]], base: Path) -> None:
        """Link ``files`` (path, ext) to ``base.<ext>`` without replacing anything; the
        ``.txt`` must be last. On failure, what was linked is removed again."""
        linked: list[Path] = []
        try:
            for path, ext in files:
                target = base.with_name(f"{base.name}.{ext}")
                os.link(path, target)  # FileExistsError instead of replacing: O_EXCL's rule
                linked.append(target)
        except BaseException:
            for target in linked:
                _unlink(target)
            raise
        if self._fsync:
            _fsync_dir(base.parent)

    # --- delete, move, renumber ----------------------------------------------------------

    def delete(self, message: Message, *, renumber: bool = True) -> None:
        """Remove the message (``.txt`` first) and, unless ``renumber=False``, close the gap
        as Asterisk does. Message objects of that folder listed earlier are stale after this."""
        context, box = self._owner(message)
        with self.lock(context, box):
            self._remove_files(message.base.parent, message.number, keep_txt=False)
            if renumber:
                self.renumber(context, box, message.folder)

    def renumber(self, context: str, box: str, folder: str) -> int:
        """Close the gaps in a folder's numbering (``resequence_mailbox``); the count."""
        directory = self.folder_dir(context, box, folder)
        with self.lock(context, box):
            numbers = _numbers(directory, txt_only=True)
            for dest, number in enumerate(numbers):
                if number != dest:
                    self._relink(directory, number, directory, dest)
            return len(numbers)

    def move(self, message: Message, folder: str, *, maxmsg: int | None = None) -> Message:
        """Move a message to another folder of its mailbox (first free number there), then
        close the gap it leaves. Raises :class:`MailboxFullError` when the destination holds
        ``maxmsg`` messages (Asterisk's save_to_folder refuses too)."""
        context, box = self._owner(message)
        target = self.folder_dir(context, box, folder)
        if folder == message.folder:
            return message
        with self.lock(context, box):
            if maxmsg is not None and self.count(context, box, folder) >= maxmsg:
                raise MailboxFullError(
                    f"folder {folder} of {box}@{context} holds {maxmsg} messages"
                )
            _makedirs(target)
            number = self._first_free(target)
            self._relink(message.base.parent, message.number, target, number)
            self.renumber(context, box, message.folder)
        return Message(number, folder, target / f"msg{number:04d}", message.info)

    def _relink(self, source: Path, number: int, target: Path, dest: int) -> None:
        """Give message ``number`` of ``source`` the number ``dest`` in ``target``: link every
        file (``.txt`` last), then remove the old names (``.txt`` first)."""
        files = [(p, _MESSAGE_NAME.match(p.name)) for p in self._files_of(source, number)]
        entries = [(p, m.group(2)) for p, m in files if m]
        entries.sort(key=lambda item: item[1] == "txt")
        self._remove_files(target, dest, keep_txt=True)
        self._publish(entries, target / f"msg{dest:04d}")
        self._remove_files(source, number, keep_txt=False)

    def _files_of(self, directory: Path, number: int) -> list[Path]:
        prefix = f"msg{number:04d}."
        try:
            return [p for p in directory.iterdir() if p.name.startswith(prefix)]
        except FileNotFoundError:
            return []

    def _remove_files(self, directory: Path, number: int, *, keep_txt: bool) -> int:
        """Remove message ``number``'s files: the ``.txt`` first (unless kept), then the rest."""
        files = self._files_of(directory, number)
        txt = [p for p in files if p.suffix == ".txt"]
        if txt and keep_txt:
            return 0
        removed = 0
        for path in txt + [p for p in files if p.suffix != ".txt"]:
            removed += _unlink(path)
        return removed

    def _owner(self, message: Message) -> tuple[str, str]:
        box_dir = message.base.parent.parent
        return box_dir.parent.name, box_dir.name

    # --- greetings -----------------------------------------------------------------------

    def greeting(self, context: str, box: str, kind: str) -> Path | None:
        """The greeting's base path (no extension) if a file of it exists in any format."""
        base = self.box_dir(context, box) / _greeting_name(kind)
        for ext in formats.READ_ORDER:
            if base.with_name(f"{base.name}.{ext}").exists():
                return base
        return None

    def save_greeting(self, context: str, box: str, kind: str, samples: npt.ArrayLike) -> None:
        """Store a greeting in every format (each file replaced atomically), and remove the
        greeting's files in formats no longer configured."""
        base = self.box_dir(context, box) / _greeting_name(kind)
        encoded = [(ext, formats.encode(ext, samples)) for ext in self.extensions]
        with self.lock(context, box):
            tmp = self._tmp_dir(context, box)
            for ext, data in encoded:
                path = self._write_temp(tmp, ext, data)
                try:
                    os.replace(path, base.with_name(f"{base.name}.{ext}"))
                finally:
                    _unlink(path)
            for ext in formats.READ_ORDER:
                if ext not in self.extensions:
                    _unlink(base.with_name(f"{base.name}.{ext}"))
            if self._fsync:
                _fsync_dir(base.parent)

    def delete_greeting(self, context: str, box: str, kind: str) -> None:
        """Remove a greeting in every format (e.g. the ``temp`` greeting)."""
        base = self.box_dir(context, box) / _greeting_name(kind)
        with self.lock(context, box):
            for ext in formats.READ_ORDER:
                _unlink(base.with_name(f"{base.name}.{ext}"))

    # --- start-up ------------------------------------------------------------------------

    def cleanup(self) -> int:
        """Remove what a crash left: files in every mailbox's ``tmp/``, and sound files of a
        message number with no ``.txt``; then close numbering gaps. Returns files removed."""
        removed = 0
        if not self.root.is_dir():
            return 0
        for context_dir in sorted(p for p in self.root.iterdir() if p.is_dir()):
            for box_dir in sorted(p for p in context_dir.iterdir() if p.is_dir()):
                context, box = context_dir.name, box_dir.name
                with self.lock(context, box):
                    removed += self._cleanup_box(context, box, box_dir)
        if removed:
            log.warning("voicemail spool cleanup removed %d leftover files", removed)
        return removed

    def _cleanup_box(self, context: str, box: str, box_dir: Path) -> int:
        removed = 0
        tmp = box_dir / TMP_DIR
        if tmp.is_dir():
            for path in tmp.iterdir():
                if path.is_file() or path.is_symlink():
                    removed += _unlink(path)
        for folder in FOLDERS:
            directory = box_dir / folder
            if not directory.is_dir():
                continue
            complete = set(_numbers(directory, txt_only=True))
            for number in set(_numbers(directory, txt_only=False)) - complete:
                removed += self._remove_files(directory, number, keep_txt=True)
            self.renumber(context, box, folder)
        return removed


def _component(value: str, what: str) -> str:
    if not value or value in (".", "..") or "/" in value or "\0" in value:
        raise SpoolError(f"invalid {what} {value!r} for a spool path")
    return value


def _greeting_name(kind: str) -> str:
    if kind not in GREETINGS:
        raise SpoolError(f"unknown greeting {kind!r} (expected one of {GREETINGS})")
    return kind


def _numbers(directory: Path, *, txt_only: bool) -> list[int]:
    """Message numbers with a ``.txt`` (or with any file), sorted."""
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return []
    numbers = set()
    for name in names:
        match = _MESSAGE_NAME.match(name)
        if match and (not txt_only or match.group(2) == "txt"):
            numbers.add(int(match.group(1)))
    return sorted(numbers)


def _makedirs(path: Path) -> None:
    missing = []
    current = path
    while not current.exists():
        missing.append(current)
        current = current.parent
    for directory in reversed(missing):
        with contextlib.suppress(FileExistsError):
            directory.mkdir(mode=DIR_MODE)
            os.chmod(directory, DIR_MODE)


def _unlink(path: Path) -> int:
    try:
        path.unlink()
    except FileNotFoundError:
        return 0
    return 1


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
