# Copyright: Contributors to the shadeform.cloud collection
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The key mask: no piece of PIECE characters of the key survives scrubbing, in any form.

The property test judges the output with helpers.key_leaks, whose decoders are its own (stdlib base64, bytes.fromhex,
unquote, and the escapes computed for each piece on its own), not the mask's tables. Set SHADEFORM_MASK_EXAMPLES for a deeper run.
"""

import base64
import json
import os
import string

import pytest
from hypothesis import example, given, settings, strategies as st

from ansible_collections.shadeform.cloud.plugins.module_utils.key_mask import MASK, PIECE, WITHHELD, KeyMask

from helpers import API_KEY, encoded_forms, key_leaks

# The project's own test keys: a quote and a backslash after the 8th character used to leave the tail in clear.
QUOTED_KEY = 'Yv4Tq8Mn"Ws2\\Jd6Kp0Lx'
SLASHED_KEY = "sfk_ABCDEFGH/9fK2+qLm=Rt%7e'Zq"
NON_ASCII = "\u00e9\u00df\u20ac\u0436\u4e2d\u009b\u2028\U0001f600"
KEYS = st.text(alphabet=st.sampled_from([chr(code) for code in range(0x20, 0x7f)] + list(NON_ASCII)), min_size=1, max_size=40)
# Text around the key in a message: no % or backslash, which could make it an escape of its own.
AROUND = st.text(alphabet=string.ascii_letters + string.digits + " :,.()[]{}<>!?#&=", max_size=12)
FORMS = len(encoded_forms("x"))


@st.composite
def messages(draw):
    """A key, and a message embedding it or pieces of it (PIECE characters or more) in 1-3 forms."""
    key = draw(KEYS)
    shortest = min(PIECE, len(key))
    parts = [draw(AROUND)]
    for _index in range(draw(st.integers(1, 3))):
        start = draw(st.integers(0, len(key) - shortest))
        end = draw(st.integers(start + shortest, len(key)))
        parts.append(encoded_forms(key[start:end])[draw(st.integers(0, FORMS - 1))])
        parts.append(draw(AROUND))
    return key, "".join(parts)


@settings(max_examples=int(os.environ.get("SHADEFORM_MASK_EXAMPLES", "200")), deadline=None)
@given(messages())
@example((QUOTED_KEY, "rejected " + QUOTED_KEY))
@example((SLASHED_KEY, "key=" + SLASHED_KEY[3:] + " (seen)"))
def test_no_piece_of_the_key_survives_in_any_form(message):
    key, text = message
    scrubbed = KeyMask(key).scrub(text)
    assert not key_leaks(key, scrubbed), (text, scrubbed)


@pytest.mark.parametrize("key", [QUOTED_KEY, SLASHED_KEY, API_KEY])
@pytest.mark.parametrize("form", range(FORMS))
def test_every_form_of_the_project_keys_is_masked_whole(key, form):
    text = "the key {0} was refused".format(encoded_forms(key)[form])
    scrubbed = KeyMask(key).scrub(text)
    assert scrubbed == "the key {0} was refused".format(MASK)
    assert not key_leaks(key, scrubbed)


def test_the_tail_after_an_escaped_character_is_masked_too():
    # Masking the longest form first used to leave '********"Ws2\Jd6Kp0Lx' out of this.
    text = "raw {0} json {1}".format(QUOTED_KEY, json.dumps(QUOTED_KEY))
    assert KeyMask(QUOTED_KEY).scrub(text) == 'raw {0} json "{0}"'.format(MASK)


def test_a_piece_in_base64_is_masked_wherever_it_starts():
    for start in range(3):
        encoded = base64.b64encode(("pre" + SLASHED_KEY)[start:].encode()).decode()
        scrubbed = KeyMask(SLASHED_KEY).scrub("seen " + encoded)
        assert MASK in scrubbed and not key_leaks(SLASHED_KEY, scrubbed), scrubbed


def test_text_without_the_key_is_left_alone():
    text = "Yv4Tq8M is seven characters of the key, fewer than a leak needs, nor is its hex 5976345471384d"
    assert KeyMask(QUOTED_KEY).scrub(text) == text


def test_a_shorter_key_is_masked_whole_and_only_whole():
    assert KeyMask("k3y!").scrub("k3y! and k3y and " + base64.b64encode(b"k3y!").decode()) == "{0} and k3y and {0}".format(MASK)


def test_a_key_of_mask_characters_withholds_what_masking_cannot_clean():
    assert KeyMask("*" * 12).scrub("key " + "*" * 12) == WITHHELD
