"""Generate the kiosk's verdict sounds (resources/sounds/*.wav) with the wave module.

Why generated: no licence questions, byte-for-byte reproducible, and tiny.
Accepted is a bright rising two-tone chime; rejected is a low, buzzy
falling pair a clerk hears over a queue without looking; already-used is a
triple mid beep so it is told apart from both. Run:
``.venv/bin/python scripts/gen_sounds.py``.
"""

from __future__ import annotations

import math
import struct
import wave
from pathlib import Path

RATE = 22050
OUT = Path(__file__).resolve().parents[1] / "resources" / "sounds"


def _tone(freq: float, seconds: float, *, square: bool = False, volume: float = 0.5) -> list[int]:
    n = int(RATE * seconds)
    fade = max(1, int(RATE * 0.01))
    out = []
    for i in range(n):
        s = math.sin(2 * math.pi * freq * i / RATE)
        if square:
            s = 0.6 * (1.0 if s >= 0 else -1.0) + 0.4 * s
        env = min(1.0, i / fade, (n - i) / fade)
        out.append(int(32767 * volume * env * s))
    return out


def _silence(seconds: float) -> list[int]:
    return [0] * int(RATE * seconds)


def _write(name: str, samples: list[int]) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with wave.open(str(OUT / name), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(RATE)
        w.writeframes(struct.pack(f"<{len(samples)}h", *samples))


def main() -> None:
    _write("accepted.wav", _tone(880, 0.12) + _tone(1320, 0.22))
    _write(
        "rejected.wav",
        _tone(330, 0.22, square=True) + _silence(0.05) + _tone(220, 0.35, square=True),
    )
    beep = _tone(600, 0.09, square=True, volume=0.4) + _silence(0.06)
    _write("already_used.wav", beep * 3)


if __name__ == "__main__":
    main()
