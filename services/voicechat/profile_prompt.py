"""The user's latest voice profile (SSAP) as a line of the LLM's system prompt."""

import string

PLACEHOLDERS = ("profile", "gender", "age", "emotion")


def likeliest(properties: dict[str, dict[str, float]]) -> dict[str, tuple[str, float]]:
    """Property -> its most probable label and that label's probability."""
    return {name: max(scores.items(), key=lambda item: item[1]) for name, scores in properties.items() if scores}


def describe(properties: dict[str, dict[str, float]]) -> str:
    """`gender: female (92%), age: adult (75%)`: the likeliest label of each property."""
    return ", ".join(f"{name}: {label} ({p:.0%})" for name, (label, p) in likeliest(properties).items())


def check_template(template: str, placeholders: tuple[str, ...] = PLACEHOLDERS) -> str:
    """Raise ValueError when the template names anything but `placeholders` (or its braces do not pair)."""
    names = {field for _, field, _, _ in string.Formatter().parse(template) if field is not None}
    unknown = names - set(placeholders)
    if unknown:
        raise ValueError(f"unknown placeholder(s) {sorted(unknown)}; use {{{'}, {'.join(placeholders)}}}")
    return template


def render(template: str, properties: dict[str, dict[str, float]]) -> str:
    top = likeliest(properties)
    values = {name: top[name][0] if name in top else "unknown" for name in PLACEHOLDERS[1:]}
    return template.format(profile=describe(properties), **values)
