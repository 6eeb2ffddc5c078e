# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The API key masked in text, in every form a server, a proxy or a library may print it.

Every occurrence of every form is found in the ORIGINAL text first, and only then is the union of what was
found replaced: masking one form first would change the text under the next one (a key with a ``/`` after
its 8th character used to keep its tail, since its URL-escaped start was masked and its raw form no longer
matched). Masked are the whole key and every contiguous piece of it of ``PIECE`` characters or more (all of a
shorter key), written

- raw, or escaped as ``repr()``, ``ascii()`` or JSON (``ensure_ascii`` true and false) do it;
- URL-encoded as ``quote`` and ``quote_plus`` do it (``safe`` empty or ``/``), ``%xx`` in upper or lower case;
- in hex, lower or upper case, of its UTF-8 bytes;
- in base64, standard or URL-safe, padded or not: base64 of a piece of the key is not a piece of the base64 of
  the key (it depends on where the piece starts), so every run of base64 characters in the text is decoded
  from each of its 4 possible starts instead, and whatever decodes to a piece of the key is masked.

Pieces are matched ``PIECE`` characters (or bytes) at a time, so a longer piece is masked whole, as the union
of its overlapping windows. The work is linear in the length of the text, which callers keep bounded: only
error messages are scrubbed, never a successful answer.
"""

import json
import re

from urllib.parse import quote, quote_plus

MASK = "********"
# Fewer characters in a row than this are not taken for the key (a shorter key is masked whole).
PIECE = 8
# Shown instead of a message that still held the key after masking: only a key made of MASK characters does that.
WITHHELD = "(the message was withheld: it held the API key)"

_BASE64_RUN = re.compile(r"[A-Za-z0-9+/_-]+")
_BASE64_VALUES = dict((character, value) for value, character in enumerate(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"))
_BASE64_VALUES.update({"-": 62, "_": 63})
_PERCENT_HEX = re.compile(r"%[0-9A-F]{2}")


class KeyMask:
    """``scrub(text)``: ``text`` with every form of ``key`` masked."""

    def __init__(self, key):
        self._key = key if isinstance(key, str) else ""
        length = min(PIECE, len(self._key))
        # Windows of the key's characters in each character-by-character form, grouped by their length in the text.
        self._windows = {}
        for tokens in _token_forms(self._key):
            for start in range(len(tokens) - length + 1):
                window = "".join(tokens[start:start + length])
                self._windows.setdefault(len(window), set()).add(window)
        self._bytes = self._key.encode("utf-8", "surrogatepass")
        self._byte_length = min(PIECE, len(self._bytes))
        self._byte_windows = set(self._bytes[start:start + self._byte_length]
                                 for start in range(len(self._bytes) - self._byte_length + 1))

    def scrub(self, text):
        if not self._key or not text:
            return text
        for _round in range(3):
            spans = self._spans(text)
            if not spans:
                return text
            text = _replace(text, spans)
        # A mask can only complete a piece of the key when the key itself holds MASK's characters.
        return WITHHELD if self._spans(text) else text

    def _spans(self, text):
        spans = []
        for length, windows in self._windows.items():
            for start in range(len(text) - length + 1):
                if text[start:start + length] in windows:
                    spans.append((start, start + length))
        spans.extend(self._base64_spans(text))
        return spans

    def _base64_spans(self, text):
        shortest = (self._byte_length * 4 + 2) // 3
        for run in _BASE64_RUN.finditer(text):
            if run.end() - run.start() < shortest:
                continue
            for offset in range(4):
                decoded, owners = _decode_base64(run.group(), offset)
                for start in range(len(decoded) - self._byte_length + 1):
                    if bytes(decoded[start:start + self._byte_length]) in self._byte_windows:
                        first, last = owners[start], owners[start + self._byte_length - 1]
                        end = run.start() + min(last + 4, len(run.group()))
                        # The padding that ends the encoded piece goes with it.
                        if end == run.end():
                            end += len(text[end:end + 2]) - len(text[end:end + 2].lstrip("="))
                        yield run.start() + first, end


def _token_forms(key):
    """The key as lists of per-character tokens, one list per character-by-character form."""
    forms = [list(key)]
    for escape in (repr, ascii):
        plain = [escape(character)[1:-1] for character in key]
        forms.append(plain)
        # repr() escapes ' only when the text holds no " too: either way may have been used for a piece.
        forms.append(["\\'" if character == "'" else token for character, token in zip(key, plain)])
    for ensure_ascii in (True, False):
        forms.append([json.dumps(character, ensure_ascii=ensure_ascii)[1:-1] for character in key])
    for encode in (quote, quote_plus):
        for safe in ("", "/"):
            upper = [encode(character, safe=safe) for character in key]
            forms.append(upper)
            forms.append([_PERCENT_HEX.sub(lambda match: match.group().lower(), token) for token in upper])
    hexadecimal = [character.encode("utf-8", "surrogatepass").hex() for character in key]
    forms.append(hexadecimal)
    forms.append([token.upper() for token in hexadecimal])
    unique = []
    for tokens in forms:
        if tokens not in unique:
            unique.append(tokens)
    return unique


def _decode_base64(run, offset):
    """The bytes ``run[offset:]`` decodes to as base64 (either alphabet; a short last group decodes partly), and for each
    byte the position in ``run`` of the group of 4 characters it came from."""
    decoded = bytearray()
    owners = []
    for position in range(offset, len(run) - 1, 4):
        group = run[position:position + 4]
        bits = 0
        for character in group:
            bits = bits << 6 | _BASE64_VALUES[character]
        count = len(group) * 6 // 8
        bits >>= len(group) * 6 - count * 8
        decoded += bits.to_bytes(count, "big")
        owners.extend([position] * count)
    return decoded, owners


def _replace(text, spans):
    """``text`` with the union of ``spans`` replaced, each stretch of overlapping or touching spans by one MASK."""
    pieces = []
    position = 0
    for start, end in _union(spans):
        pieces.append(text[position:start])
        pieces.append(MASK)
        position = end
    pieces.append(text[position:])
    return "".join(pieces)


def _union(spans):
    merged = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return merged
