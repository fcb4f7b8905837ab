"""The user's latest voice profile (SSAP) as a line of the LLM's system prompt."""

import string

PLACEHOLDERS = ("profile", "gender", "age", "emotion")


def describe(properties: dict[str, dict[str, float]]) -> str:
    """`gender: female (92%), age: adult (75%)`: the likeliest label of each property."""
    parts = []
    for name, scores in properties.items():
        if scores:
            label, probability = max(scores.items(), key=lambda item: item[1])
            parts.append(f"{name}: {label} ({probability:.0%})")
    return ", ".join(parts)


def check_template(template: str) -> str:
    """Raise ValueError when the template names anything but the known placeholders."""
    names = {field for _, field, _, _ in string.Formatter().parse(template) if field is not None}
    unknown = names - set(PLACEHOLDERS)
    if unknown:
        raise ValueError(f"unknown placeholder(s) {sorted(unknown)}; use {{{'}, {'.join(PLACEHOLDERS)}}}")
    return template


def render(template: str, properties: dict[str, dict[str, float]]) -> str:
    top = {name: max(scores, key=scores.get) for name, scores in properties.items() if scores}
    values = {name: top.get(name, "unknown") for name in PLACEHOLDERS[1:]}
    return template.format(profile=describe(properties), **values)
