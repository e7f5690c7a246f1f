"""Words for the demo conversation: posts, replies, quotes, blog entries, pingback excerpts.

Sentences are assembled from per-community fragments so 20,000 posts read as many people
talking, not one template repeated. Everything that should match the movement carries its
hashtag, its name ("NHS Citizen") or its pledge URL, in the proportions real posts do.
"""

from __future__ import annotations

import html
import random
import re

PLEDGE_URL = "https://www.nhscitizen.org.uk/pledge"

OPENERS = {
    "patients": (
        "As a carer for my mum,",
        "Three years on the waiting list and",
        "Speaking as someone with Long Covid,",
        "My daughter's experience of CAMHS taught me that",
        "Went to our local listening event tonight and",
        "Honestly,",
        "After my dad's discharge last month,",
        "As a patient rep,",
    ),
    "clinicians": (
        "Fourteen-hour shift done, and",
        "As a GP in the Valleys,",
        "From the ward:",
        "Handover thought:",
        "Every nurse I know will tell you",
        "Twenty years in A&E and",
        "Midwives have been saying this for years:",
        "Clinic reflection:",
    ),
    "policy": (
        "Board papers out today:",
        "Interesting ICB discussion this morning:",
        "For commissioners reading this,",
        "The evidence is clear:",
        "Genuine question for NHS leaders:",
        "Council scrutiny committee today and",
    ),
    "organisers": (
        "Brilliant turnout at the community centre:",
        "Reminder:",
        "We knocked on 200 doors this weekend and",
        "Our co-op's view:",
        "Organising note:",
        "Small acts, big change:",
    ),
    "research": (
        "New preprint:",
        "Interesting finding from our fieldwork:",
        "Reading group this week:",
        "Data point:",
        "From the literature on deliberative democracy,",
        "Methods question:",
    ),
}

BODIES = (
    "people who use services know things the system does not.",
    "the waiting list is not a number, it is my neighbour.",
    "co-production means sharing power, not just asking for feedback.",
    "we need citizens in the room when decisions are made, not afterwards.",
    "listening is the cheapest intervention the NHS has.",
    "the best ideas at our surgery came from the patient group.",
    "nobody should have to tell their story five times to five services.",
    "carers keep the NHS standing and deserve a voice in how it changes.",
    "involvement that happens after the decision is consultation theatre.",
    "mental health services were designed without the people who use them.",
    "the pledge is simple: one change, one promise, this month.",
    "health inequalities start long before anyone walks into a clinic.",
    "staff wellbeing and patient experience are the same conversation.",
    "the assembly format works because everyone gets the same microphone.",
    "digital first cannot mean digital only for older patients.",
    "community pharmacies are the front door many people actually use.",
    "local knowledge beats another national dashboard every time.",
    "we tested a citizens' panel on discharge and it changed the leaflet completely.",
    "a 15-minute appointment is not enough for someone with four conditions.",
    "every trust board should have a patient leader with a real vote.",
    "the question is not whether to involve people but who is missing.",
    "small changes pledged by thousands add up to a different NHS.",
    "the people closest to the problem are usually closest to the solution.",
    "our patient panel rewrote the appointment letters and DNAs dropped by a third.",
    "nobody asked the night porters, and they knew exactly where the bottleneck was.",
    "if the room is full of job titles, the conversation is already too narrow.",
    "being heard should not depend on having the energy to complain.",
    "translation and BSL at every listening event should be the default, not a favour.",
    "young carers are invisible in almost every engagement plan I have read.",
    "trust is built in the follow-up email, not in the workshop.",
    "we keep designing pathways for the average patient, who does not exist.",
    "the waiting room is the biggest focus group in the country.",
    "the most useful feedback we ever had came on a napkin in the café.",
    "you cannot co-produce on a two-week consultation deadline.",
    "paying people for their time is the least we can do when we ask for their expertise.",
    "social prescribing works when the community already has somewhere to go.",
    "rural patients spend more time travelling than being seen.",
    "the voice of people who never turn up is the one we most need to hear.",
    "a hospital discharge is a handover to families, and nobody briefs them.",
    "every listening exercise should end with 'here is what we changed'.",
)

EVENT_BODIES = (
    "the room at the NHS Citizen Assembly is buzzing.",
    "table discussions at the Assembly are the most honest I've heard in years.",
    "just heard a carer tell 300 people exactly what needs to change.",
    "the Assembly's gather stage put patients and board members at the same table.",
    "day two of the Assembly: the questions are getting sharper.",
    "livestream from the Assembly is worth watching if you couldn't be here.",
    "first time at the NHS Citizen Assembly and I didn't expect to be listened to like this.",
    "the jury process at the Assembly is democracy you can actually see.",
    "the Assembly just voted on its three priorities and carers' voices topped the list.",
    "someone at my table has been an NHS cleaner for 31 years and nobody had asked her before.",
    "the board members at the Assembly are mostly listening, which is the point.",
    "packed breakout on mental health at the Assembly, standing room only.",
    "the graphic recorder at the Assembly has captured the whole day on one wall.",
)

CLOSERS = (
    "",
    "",
    "Who else is in?",
    "Thoughts welcome.",
    "More of this please.",
    "Pledge here:",
    "Thread below.",
    "Worth ten minutes of anyone's time.",
    "Proud to be part of this.",
    "Let's keep going.",
)

REPLIES = (
    "Completely agree.",
    "This is exactly what we found too.",
    "Not sure it's that simple, but yes to the principle.",
    "Thank you for saying this out loud.",
    "Same here in Cardiff.",
    "Could you share the slides?",
    "This made me cry a bit, honestly.",
    "Yes, and carers need the same seat at the table.",
    "Our PPG would love to hear more about this.",
    "The hard part is keeping it going after the event.",
    "Signed the pledge this morning.",
    "Where can I read the evidence for this?",
)

QUOTES = (
    "This, a hundred times.",
    "Important thread on why involvement matters:",
    "Worth reading if you work in an ICB.",
    "The best summary of the Assembly I've seen.",
    "Saving this for our next board meeting.",
    "Respectfully disagree with part of this, but read it:",
)

WELSH = (
    "Mae llais cleifion yn bwysig. #NHSCitizen",
    "Diolch i bawb yn y Cynulliad heddiw #NHSCitizen #NHSCitizenAssembly",
    "Gwrando yw'r cam cyntaf. #NHSCitizen",
)

EXTRA_TAGS = (
    "NHS",
    "PatientVoice",
    "HealthEquity",
    "CoProduction",
    "PeoplePowered",
    "NHSChangeDay",
    "healthcareradicals",
    "Carers",
    "PrimaryCare",
    "CommunityOfPractice",
)

CONTENT_WARNINGS = (
    "mental health",
    "waiting lists, pain",
    "bereavement",
    "self-harm mention",
    "hospital stay, long",
)

IMAGE_DESCRIPTIONS = (
    "A packed conference hall with round tables and people holding coloured cards",
    "Handwritten pledge cards pinned to a board",
    "A sticky-note wall titled 'What would make the NHS listen?'",
    "Screenshot of the pledge page",
    "Photo from a hospital bed, cannula in the back of a hand",
    "Close-up of a surgical wound healing after an operation",
)
SENSITIVE_IMAGE = {4, 5}

BLOG_TITLES = (
    "What the NHS Citizen Assembly taught me about listening",
    "Why I signed the NHS Citizen pledge",
    "Co-production is a verb",
    "Notes from a night shift: who gets heard?",
    "The missing voices in our ICB",
    "Five things commissioners can learn from carers",
    "A citizens' jury on discharge: what happened next",
    "Deliberation at scale: first findings",
    "Reflections on day one of the Assembly",
    "Reflections on day two of the Assembly",
    "From pledge to practice",
    "Community organising meets the NHS",
    "Long Covid and the right to be believed",
    "Small changes, thousands of people",
    "What 'patient leadership' should mean",
    "Why we need NHS Citizen more than ever",
    "Power, participation and the waiting room",
    "The Assembly, one week on",
)


def sentence(rng: random.Random, community: str, *, event: bool) -> str:
    body = rng.choice(EVENT_BODIES) if event and rng.random() < 0.6 else rng.choice(BODIES)
    opener = rng.choice(OPENERS[community]) if rng.random() < 0.65 else ""
    if opener:
        return f"{opener} {body}"
    return body[0].upper() + body[1:]


def tags(rng: random.Random, *, event: bool, base: str = "NHSCitizen") -> list[str]:
    out = [base]
    if event and rng.random() < 0.7:
        out.append("NHSCitizenAssembly")
    if rng.random() < 0.45:
        out.append(rng.choice(EXTRA_TAGS))
    return out


def pledge_link(rng: random.Random) -> str:
    # People paste the page with campaign parameters; matching must see through them.
    r = rng.random()
    if r < 0.5:
        return PLEDGE_URL
    if r < 0.75:
        return f"{PLEDGE_URL}?utm_source=bluesky&utm_medium=social"
    if r < 0.9:
        return "https://www.NHSCitizen.org.uk/pledge/?utm_campaign=assembly#sign"
    return f"{PLEDGE_URL}/"


def post_text(
    rng: random.Random,
    community: str,
    *,
    event: bool,
    lead: str | None = None,
    link: str | None = None,
    matching: str = "hashtag",
) -> tuple[str, list[str], list[str]]:
    """Plain text, hashtags as written, and links. `matching`: hashtag | term | url."""
    parts = []
    if lead:
        parts.append(lead)
    parts.append(sentence(rng, community, event=event))
    if rng.random() < 0.35:
        parts.append(sentence(rng, community, event=event))
    closer = rng.choice(CLOSERS)
    links: list[str] = []
    if matching == "url" or closer == "Pledge here:" or (link is None and rng.random() < 0.08):
        links.append(pledge_link(rng))
    if link:
        links.append(link)
    if closer:
        parts.append(closer)
    hashtags: list[str] = []
    if matching == "hashtag":
        hashtags = tags(rng, event=event)
        if rng.random() < 0.1:
            hashtags[0] = rng.choice(("nhscitizen", "NHSCITIZEN", "NhsCitizen"))
    elif matching == "term":
        parts.insert(0 if rng.random() < 0.5 else len(parts), "NHS Citizen")
    text = " ".join(p for p in parts if p)
    if matching == "term":
        text = text.replace("NHS Citizen ", "NHS Citizen: ", 1)
    if links:
        text += " " + " ".join(links)
    if hashtags:
        text += " " + " ".join(f"#{t}" for t in hashtags)
    return text, hashtags, links


_TOKEN = re.compile(r"(https?://\S+|#\w+)")


SAFE_REL = 'rel="nofollow noopener noreferrer ugc"'


def mastodon_html(text: str, instance: str, *, sanitised: bool = False) -> str:
    """Status HTML as Mastodon renders it: hashtags and links as anchors in a paragraph.

    `sanitised=True` writes directly what `domain.sanitize.sanitize_html` makes of it
    (same output, tested), because running the sanitiser over 10,000 statuses we generated
    ourselves would be a third of the generation time.
    """

    def repl(m: re.Match[str]) -> str:
        token = m.group(0)
        if token.startswith("#"):
            tag = token[1:]
            attrs = SAFE_REL if sanitised else 'class="mention hashtag" rel="tag"'
            return (
                f'<a href="https://{instance}/tags/{tag.lower()}" {attrs}>'
                f"#<span>{html.escape(tag)}</span></a>"
            )
        shown = token.split("://", 1)[1]
        attrs = SAFE_REL if sanitised else 'target="_blank" rel="nofollow noopener noreferrer"'
        return (
            f'<a href="{html.escape(token)}" {attrs}>'
            f'<span class="invisible">https://</span><span class="ellipsis">'
            f"{html.escape(shown[:30])}</span></a>"
        )

    pieces = _TOKEN.split(text)
    out = []
    for piece in pieces:
        if _TOKEN.fullmatch(piece):
            out.append(_TOKEN.sub(repl, piece))
        else:
            out.append(html.escape(piece, quote=False))
    return "<p>" + "".join(out) + "</p>"


def blog_html(
    rng: random.Random, community: str, *, event: bool, links: list[tuple[str, str]]
) -> tuple[str, str]:
    """(raw HTML as the feed carries it, summary) for a blog entry linking to `links`."""
    paras = []
    for i in range(rng.randint(3, 6)):
        sents = " ".join(sentence(rng, community, event=event) for _ in range(rng.randint(2, 4)))
        if i == 1 and rng.random() < 0.5:
            sents = f"<strong>{html.escape(sents)}</strong>"
        else:
            sents = html.escape(sents)
        paras.append(f"<p>{sents}</p>")
    for url, title in links:
        paras.insert(
            rng.randint(1, len(paras)),
            f'<p>As <a href="{html.escape(url)}">{html.escape(title)}</a> put it, '
            f"<em>{html.escape(rng.choice(BODIES))}</em></p>",
        )
    if rng.random() < 0.3:
        paras.append(f"<blockquote><p>{html.escape(rng.choice(EVENT_BODIES))}</p></blockquote>")
    paras.append(
        f'<p>If you have not yet, <a href="{PLEDGE_URL}">make your NHS Citizen pledge</a>. '
        "#NHSCitizen</p>"
    )
    if rng.random() < 0.15:
        # Feeds carry whatever the CMS emits, including embeds and trackers the sanitiser drops.
        paras.append(
            '<script src="https://stats.example.net/t.js"></script>'
            '<img src="https://stats.example.net/pixel.gif" onerror="alert(1)">'
        )
    summary = rng.choice(BODIES)
    return "\n".join(paras), summary[0].upper() + summary[1:]
