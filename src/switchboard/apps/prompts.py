"""Prompts for interactive applications (voicemail): play named sounds or recorded audio
to the caller, stop at a key, read digits.

Digits come from ``channel.digits`` (RFC 4733 through the relay, or SIP INFO). A prompt
played with ``stop_on`` keys ends as soon as one of them is pressed, and the key is
returned, as Asterisk's ``ast_streamfile`` + ``ast_waitstream`` do; other keys are dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable

import numpy as np

from switchboard.apps.playback import DEFAULT_LANGUAGE, find_sound, generated_sound, player_for
from switchboard.media.player import RtpPlayer, SoundFileError
from switchboard.services.calls.channel import Channel

log = logging.getLogger(__name__)


class Prompter:
    """Plays to one channel's phone, in its language and codec."""

    def __init__(self, channel: Channel) -> None:
        self.channel = channel
        self.language = channel.endpoint.language or DEFAULT_LANGUAGE
        self._player: RtpPlayer | None = None
        self._made = False

    @property
    def player(self) -> RtpPlayer | None:
        """The RTP player on the caller's leg (made once the call is answered)."""
        if not self._made:
            self._player = player_for(self.channel)
            self._made = True
        return self._player

    async def play(self, *names: str, stop_on: str = "") -> str | None:
        """Play the prompts in order; returns the ``stop_on`` key that stopped them."""
        for name in names:
            digit = await self._race(self._sound(name), stop_on)
            if digit is not None:
                return digit
        return None

    async def play_audio(self, samples: np.ndarray, stop_on: str = "") -> str | None:
        """Play 8 kHz PCM (a recorded message); returns the key that stopped it."""
        player = self.player
        if player is None or not len(samples):
            return None
        return await self._race(player.play_samples(samples.astype(np.int16)), stop_on)

    async def digit(self, timeout: float) -> str | None:
        """The next key within ``timeout`` seconds, or None."""
        try:
            return await asyncio.wait_for(self.channel.digits.get(), timeout)
        except TimeoutError:
            return None

    async def read(
        self,
        *,
        first: str | None = None,
        timeout: float = 5.0,
        limit: int = 20,
        first_timeout: float | None = None,
    ) -> str:
        """Keys up to ``#`` (not included), a pause of ``timeout`` or ``limit`` keys
        (``ast_readstring``); ``first_timeout`` is the wait for the first key, when no
        ``first`` key was pressed during the prompt."""
        typed = first or ""
        while len(typed) < limit and not typed.endswith("#"):
            wait = first_timeout if not typed and first_timeout is not None else timeout
            key = await self.digit(wait)
            if key is None:
                break
            typed += key
        return typed.removesuffix("#")

    def forget_keys(self) -> None:
        """Drop keys pressed before now (type-ahead a menu must not take)."""
        while not self.channel.digits.empty():
            self.channel.digits.get_nowait()

    async def _sound(self, name: str) -> None:
        player = self.player
        law = player.law if player is not None else None
        path = await asyncio.to_thread(find_sound, name, self.language, law)
        generated = generated_sound(name) if path is None else None
        if player is not None and generated is not None:
            await player.play_source(generated)
            return
        if path is None or player is None:
            log.warning(
                "%s: prompt %s not found (language %r)", self.channel.name, name, self.language
            )
            return
        try:
            samples = await asyncio.to_thread(player.load, path)
        except SoundFileError as error:
            log.warning("%s: cannot play %s: %s", self.channel.name, path, error)
            return
        await player.play_samples(samples)

    async def _race(self, playing: Awaitable[None], stop_on: str) -> str | None:
        """Run ``playing`` until it ends or a ``stop_on`` key is pressed."""
        play = asyncio.ensure_future(playing)
        if not stop_on:
            await play
            return None
        queue = self.channel.digits
        try:
            while True:
                key = asyncio.ensure_future(queue.get())
                done, _ = await asyncio.wait({play, key}, return_when=asyncio.FIRST_COMPLETED)
                if key in done:
                    pressed = key.result()
                    if pressed in stop_on:
                        return pressed
                    continue
                key.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await key
                return None
        finally:
            play.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await play
