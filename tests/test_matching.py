"""Matching (DESIGN.md section 2): which movements a post matches, and how.

Property-based where a rule is general (any tag, any URL), example-based where a rule is about
one tricky case people actually write (#NHSCitizenship is not #NHSCitizen).
"""

from __future__ import annotations

import unicodedata

from hypothesis import example, given, settings
from hypothesis import strategies as st

from domain.matching import (
    MovementRule,
    extract_hashtags,
    fold,
    match_post,
    normalise_hashtag,
    normalise_url,
)

NHS = MovementRule.compile(
    1,
    "nhscitizen",
    hashtags=["NHSCitizen"],
    terms=["NHS Citizen", "citizens' assembly"],
    urls=["https://www.nhscitizen.org.uk/pledge"],
)
CHANGE_DAY = MovementRule.compile(2, "changeday", hashtags=["NHSChangeDay"], terms=[], urls=[])
RULES = [NHS, CHANGE_DAY]


def via(**post: object) -> dict[int, str]:
    return {m.movement_id: m.via for m in match_post(RULES, **post)}  # type: ignore[arg-type]


# -- strategies ---------------------------------------------------------------------------

# Hashtag bodies as platforms accept them: letters (any script) and digits, at least one letter.
# (Letters whose NFKC form holds punctuation or spaces are excluded: 'Ŀ' is 'L·' and U+FDFA is
# a whole phrase; a trailing '·' or a space ends a tag.)
tag_letters = st.characters(categories=("Lu", "Ll", "Lo"), exclude_characters="ªº").filter(
    lambda c: all(unicodedata.category(x)[0] in "LMN" for x in unicodedata.normalize("NFKC", c))
)
tag_bodies = st.text(
    alphabet=st.one_of(tag_letters, st.characters(categories=("Nd",))), min_size=1, max_size=20
).filter(lambda s: any(unicodedata.category(c).startswith("L") for c in s))
ascii_tags = st.from_regex(r"[A-Za-z][A-Za-z0-9]{0,19}", fullmatch=True)

hosts = st.from_regex(r"[a-z][a-z0-9-]{0,10}(\.[a-z][a-z0-9-]{0,10}){1,3}", fullmatch=True)
segments = st.from_regex(r"[A-Za-z0-9._~-]{1,12}", fullmatch=True)
paths = st.lists(segments, max_size=4).map(lambda xs: "/" + "/".join(xs))
param_names = st.from_regex(r"[a-z][a-z0-9]{0,8}", fullmatch=True).filter(
    lambda k: not k.startswith(("utm", "pk", "mtm"))
)
params = st.lists(st.tuples(param_names, st.from_regex(r"[A-Za-z0-9]{0,8}", fullmatch=True)))


@st.composite
def page_urls(draw: st.DrawFn) -> str:
    scheme = draw(st.sampled_from(["http", "https"]))
    query = "&".join(f"{k}={v}" for k, v in draw(params))
    return f"{scheme}://{draw(hosts)}{draw(paths)}" + (f"?{query}" if query else "")


def fullwidth(s: str) -> str:
    """What a Japanese or Chinese keyboard types for ASCII letters and digits."""
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in s)


# -- hashtags -------------------------------------------------------------------------------


@given(ascii_tags)
def test_a_hashtag_matches_whatever_its_letter_case(tag):
    assert normalise_hashtag(tag.upper()) == normalise_hashtag(tag.lower()) == fold(tag)


@given(ascii_tags)
def test_a_fullwidth_hashtag_is_the_same_tag(tag):
    assert normalise_hashtag("＃" + fullwidth(tag)) == normalise_hashtag("#" + tag)
    assert extract_hashtags("ＩＭ " + "＃" + fullwidth(tag)) == extract_hashtags("IM #" + tag)


@given(tag_bodies)
def test_composed_and_decomposed_accents_are_the_same_tag(tag):
    nfc, nfd = unicodedata.normalize("NFC", tag), unicodedata.normalize("NFD", tag)
    assert normalise_hashtag(nfc) == normalise_hashtag(nfd)
    assert [normalise_hashtag(t) for t in extract_hashtags(f"x #{nfd} y")] == [
        normalise_hashtag(nfc)
    ]


@given(tag_bodies)
@example("हिन्दी")  # Devanagari: the virama is a combining mark inside the word
@example("Ελληνικά")
@example("cafe\u0301")  # e + combining acute accent
def test_a_hashtag_with_combining_marks_is_extracted_whole(tag):
    tag = unicodedata.normalize("NFKC", tag)
    assert extract_hashtags(f"Join us #{tag} today") == [tag]


@given(tag_bodies)
def test_hashtag_normalisation_is_idempotent(tag):
    once = normalise_hashtag(tag)
    assert normalise_hashtag(once) == once


@given(st.text(max_size=30))
def test_folding_is_idempotent_on_any_text(s):
    assert fold(fold(s)) == fold(s)


@given(st.text(max_size=30))
def test_folding_respects_unicode_equivalence(s):
    forms = {fold(unicodedata.normalize(f, s)) for f in ("NFC", "NFD", "NFKC", "NFKD")}
    assert forms == {fold(s)}


def test_a_longer_hashtag_is_a_different_hashtag():
    assert via(text="Proud of my #NHSCitizenship certificate") == {}
    assert via(hashtags=["NHSCitizenship"]) == {}
    assert via(text="#NHSCitizen_2024 meetup") == {}


def test_a_hashtag_followed_by_punctuation_still_matches():
    assert via(text="Signed the pledge (#NHSCitizen), have you?") == {1: "hashtag"}
    assert via(text="#nhscitizen's assembly") == {1: "hashtag"}


def test_a_url_fragment_or_html_entity_is_not_a_hashtag():
    assert extract_hashtags("see https://example.org/page#NHSCitizen and &#NHSCitizen;") == []


def test_hashtags_given_by_the_platform_match_without_the_text():
    assert via(hashtags=["nhscitizen"], text=None) == {1: "hashtag"}
    assert via(hashtags=["#NHSChangeDay"]) == {2: "hashtag"}


def test_invisible_characters_inside_a_tag_do_not_hide_it():
    assert via(hashtags=["NHS\u200bCitizen"]) == {1: "hashtag"}


# -- terms ----------------------------------------------------------------------------------


def test_a_term_matches_as_whole_words_across_case_and_line_breaks():
    assert via(text="Went to the nhs\n  CITIZEN day") == {1: "term"}


def test_a_term_inside_a_longer_word_does_not_match():
    assert via(text="Essay on NHS Citizenship and duty") == {}
    assert via(text="MyNHS Citizen portal") == {}


def test_a_fullwidth_term_matches():
    assert via(text=fullwidth("NHS") + " " + fullwidth("Citizen") + " rocks") == {1: "term"}


def test_a_term_with_an_apostrophe_matches_typographic_apostrophes_too():
    assert via(text="The citizens’ assembly met") == {1: "term"}
    assert via(text="The CITIZENS' ASSEMBLY met") == {1: "term"}


@given(st.text(max_size=40))
def test_a_term_always_matches_itself_inside_any_surrounding_text(noise):
    text = f"{noise} NHS Citizen {noise}"
    assert via(text=text).get(1) in ("term", "hashtag", "url")


# -- URLs -----------------------------------------------------------------------------------


@given(page_urls())
def test_url_normalisation_is_idempotent(url):
    once = normalise_url(url)
    assert once is not None
    assert normalise_url(once) == once


@given(st.text(max_size=60))
def test_url_normalisation_is_idempotent_on_any_input(s):
    once = normalise_url(s)
    if once is not None:
        assert normalise_url(once) == once


@given(st.text(alphabet=st.characters(codec="ascii"), max_size=40))
def test_url_normalisation_is_idempotent_on_any_http_url(rest):
    once = normalise_url("https://" + rest)
    if once is not None:
        assert normalise_url(once) == once


@given(page_urls())
def test_scheme_and_host_case_do_not_matter(url):
    scheme, rest = url.split("://", 1)
    host, _, tail = rest.partition("/")
    shouted = f"{scheme.upper()}://{host.upper()}/{tail}"
    assert normalise_url(shouted) == normalise_url(url)


@given(
    page_urls(),
    st.sampled_from(
        [
            "utm_source",
            "utm_medium",
            "UTM_Campaign",
            "fbclid",
            "gclid",
            "mc_eid",
            "pk_campaign",
            "igshid",
        ]
    ),
)
def test_tracking_parameters_are_dropped(url, tracker):
    sep = "&" if "?" in url else "?"
    assert normalise_url(f"{url}{sep}{tracker}=newsletter") == normalise_url(url)


@given(page_urls())
def test_a_trailing_slash_and_a_fragment_do_not_matter(url):
    base, sep, query = url.partition("?")
    assert normalise_url(base.rstrip("/") + "/" + sep + query + "#top") == normalise_url(url)


@given(page_urls())
def test_default_ports_do_not_matter(url):
    scheme, rest = url.split("://", 1)
    host, _, tail = rest.partition("/")
    port = 443 if scheme == "https" else 80
    assert normalise_url(f"{scheme}://{host}:{port}/{tail}") == normalise_url(url)


def test_the_path_keeps_its_case_and_other_ports_are_kept():
    assert normalise_url("https://example.org/Pledge") != normalise_url(
        "https://example.org/pledge"
    )
    assert normalise_url("https://example.org:8443/a") == "https://example.org:8443/a"


def test_the_pledge_url_matches_however_it_is_written():
    for link in (
        "https://www.nhscitizen.org.uk/pledge",
        "HTTPS://WWW.NHSCitizen.org.uk/pledge/",
        "https://www.nhscitizen.org.uk:443/pledge?utm_source=twitter&utm_medium=social",
        "https://www.nhscitizen.org.uk/pledge#sign",
        "https://www.nhscitizen.org.uk./pledge?fbclid=IwAR0abc",
    ):
        assert via(links=[link]) == {1: "url"}, link


def test_a_pledge_url_written_in_the_text_matches():
    assert via(text="Sign it: https://www.nhscitizen.org.uk/pledge/.") == {1: "url"}


def test_a_longer_path_is_a_different_page():
    assert via(links=["https://www.nhscitizen.org.uk/pledge-results"]) == {}
    assert via(links=["https://www.nhscitizen.org.uk/pledge/results"]) == {}


def test_the_order_of_query_parameters_does_not_matter():
    assert normalise_url("https://e.org/p?b=2&a=1") == normalise_url("https://e.org/p?a=1&b=2")


def test_percent_encoding_of_unreserved_characters_does_not_matter():
    assert normalise_url("https://e.org/%7Euser/a%2db") == normalise_url("https://e.org/~user/a-b")
    assert normalise_url("https://e.org/a%2fb") == normalise_url("https://e.org/a%2Fb")


def test_an_international_host_matches_its_punycode_form():
    assert normalise_url("https://bücher.example/x") == normalise_url(
        "https://xn--bcher-kva.example/x"
    )


def test_an_ipv6_host_survives_normalisation():
    url = normalise_url("http://[::1]:8080/a/")
    assert url == "http://[::1]:8080/a"
    assert normalise_url(url) == url


def test_things_that_are_not_web_links_are_refused():
    for bad in (
        "mailto:a@b.org",
        "ftp://e.org/x",
        "javascript:alert(1)",
        "https://",
        "/pledge",
        "https://e.org:99999/",
        "",
    ):
        assert normalise_url(bad) is None, bad


# -- several movements ----------------------------------------------------------------------


def test_a_post_can_match_several_movements_each_with_its_strongest_reason():
    got = via(
        text="#NHSChangeDay and the NHS Citizen pledge https://www.nhscitizen.org.uk/pledge",
    )
    assert got == {1: "url", 2: "hashtag"}


def test_a_forced_movement_matches_whatever_the_content():
    assert via(text="nothing relevant", forced=["changeday"]) == {2: "source"}


@settings(max_examples=200)
@given(st.text(max_size=80))
def test_matching_never_raises_on_arbitrary_text(s):
    match_post(RULES, text=s, links=[s], hashtags=[s])
