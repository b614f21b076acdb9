"""Plan items people can type, and their validation against the server's allowed lists.

Accepted forms (:func:`parse_item`):

- **shorthand**: ``count det1,det2 num=3`` -- the plan name, then positional arguments,
  then ``key=value`` keyword arguments;
- **JSON or Python literal of a whole item**:
  ``'{"name": "count", "args": [["det1"]], "kwargs": {"num": 3}}'``
  (``True``/``None`` work as well as ``true``/``null``);
- **a file**: ``@plans.json``, ``@plans.yaml`` (one item or a list of items), ``@-`` for stdin.

Each shorthand value is read as JSON first (``3``, ``2.5``, ``true``, ``"text"``,
``["det1","det2"]``), then as a Python literal (``True``, ``None``, ``('a', 1)``).
A bare word containing a comma is a **list**: ``det1,det2`` is ``["det1", "det2"]`` and
``det1,`` is ``["det1"]``; any other bare word is a string (``det1`` is ``"det1"``). So
``count '["det1","det2"]' num=3`` and ``count det1,det2 num=3`` send the same item. To pass
a string that contains a comma, quote it as JSON: ``'"a,b"'``.

:func:`validate_item` checks the name, parameter names, required parameters and device
names against ``plans/allowed`` and ``devices/allowed`` before anything is sent.
"""

from __future__ import annotations

import ast
import difflib
import json
import re
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from tether.errors import UsageError

_KEY = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$", re.S)
_ITEM_KEYS = {"name", "args", "kwargs", "item_type", "meta", "item_uid", "user", "user_group"}
# Annotation markers the queue server uses for device-typed parameters.
_DEVICE_MARKS = ("__READABLE__", "__MOVABLE__", "__FLYABLE__", "__DEVICE__")
_SEQUENCES = (
    "collections.abc.Sequence",
    "typing.Sequence",
    "collections.abc.Iterable",
    "typing.List",
    "list[",
)
# kinds (inspect.Parameter)
_POSITIONAL = (0, 1)
_VAR_POSITIONAL, _KEYWORD_ONLY, _VAR_KEYWORD = 2, 3, 4


def _literal(text: str) -> Any:
    """``ast.literal_eval`` without its SyntaxWarnings ("invalid decimal literal" on stderr)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SyntaxWarning)
        return ast.literal_eval(text)


def parse_value(text: str) -> Any:
    """One shorthand value: JSON, else a Python literal, else ``a,b`` → list, else the string."""
    try:
        return json.loads(text)
    except (ValueError, RecursionError):  # nested too deeply: literal_eval says so below
        pass
    try:
        value = _literal(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        pass
    else:
        return list(value) if isinstance(value, tuple) else value  # 1,2.5 is a list, like det1,det2
    if "," in text and not text.lstrip().startswith(("[", "{", "(", '"', "'")):
        return [parse_value(p.strip()) for p in text.split(",") if p.strip()]
    if text[:1] in "[{(\"'":
        raise UsageError(f"cannot read {text!r}: it is neither JSON nor a Python literal")
    return text


def normalize_item(obj: Any, *, where: str = "the item") -> dict[str, Any]:
    """A plan item dict (``item_type`` defaults to ``plan``) with its fields checked."""
    if not isinstance(obj, Mapping):
        raise UsageError(f"{where} must be an object with at least a 'name', not {type(obj).__name__}")
    unknown = set(obj) - _ITEM_KEYS
    if unknown:
        raise UsageError(f"{where} has unknown field(s) {sorted(unknown)}; allowed: {sorted(_ITEM_KEYS)}")
    name = obj.get("name")
    if not isinstance(name, str) or not name:
        raise UsageError(f"{where} needs a 'name' (the plan's name)")
    item: dict[str, Any] = {"item_type": obj.get("item_type", "plan"), "name": name}
    if item["item_type"] not in ("plan", "instruction", "function"):
        raise UsageError(
            f"{where}: item_type must be plan, instruction or function, not {item['item_type']!r}"
        )
    args = obj.get("args", [])
    kwargs = obj.get("kwargs", {})
    if isinstance(args, tuple):
        args = list(args)
    if not isinstance(args, list):
        raise UsageError(f"{where}: 'args' must be a list")
    if not isinstance(kwargs, Mapping) or not all(isinstance(k, str) for k in kwargs):
        raise UsageError(f"{where}: 'kwargs' must be an object with string keys")
    if args:
        item["args"] = _jsonable(args, where)
    if kwargs:
        item["kwargs"] = _jsonable(dict(kwargs), where)
    for key in ("meta", "item_uid"):
        if key in obj:
            item[key] = _jsonable(obj[key], where)
    return item


def _jsonable(value: Any, where: str) -> Any:
    if isinstance(value, tuple):
        value = list(value)
    if isinstance(value, list):
        return [_jsonable(v, where) for v in value]
    if isinstance(value, dict):
        return {str(k): _jsonable(v, where) for k, v in value.items()}
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    raise UsageError(f"{where}: {value!r} ({type(value).__name__}) cannot be sent as JSON")


def _numbers(token: str) -> bool:
    """Whether ``token`` is a number or a comma-separated list of numbers (``-1``, ``-1e-3``, ``-1,-2``):
    a value, where the command line would take a leading ``-`` for an option."""
    try:
        return all(float(part) is not None for part in token.rstrip(",").split(","))
    except ValueError:
        return False


def parse_shorthand(tokens: list[str]) -> dict[str, Any]:
    """``["count", "det1,det2", "num=3"]`` → ``{"item_type": "plan", "name": "count",
    "args": [["det1", "det2"]], "kwargs": {"num": 3}}``."""
    if not tokens:
        raise UsageError("no plan given: name a plan, e.g. count det1,det2 num=3")
    name, rest = tokens[0], tokens[1:]
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        raise UsageError(f"{name!r} is not a plan name (expected an identifier such as count)")
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    for tok in rest:
        if tok.startswith("-") and not _numbers(tok):
            raise UsageError(
                f"no such option: {tok}",
                hint="a value that starts with - and is no number is quoted as JSON: '\"-x\"'",
            )
        match = _KEY.match(tok)
        if match:
            key, value = match.groups()
            if key in kwargs:
                raise UsageError(f"keyword argument {key!r} given twice")
            kwargs[key] = parse_value(value)
        else:
            if kwargs:
                raise UsageError(f"positional argument {tok!r} after keyword arguments")
            args.append(parse_value(tok))
    return normalize_item({"name": name, "args": args, "kwargs": kwargs})


def _load_file(ref: str, stdin_text: str | None = None) -> Any:
    path = ref[1:]
    if path == "-":
        text = stdin_text if stdin_text is not None else sys.stdin.read()
        suffix = ""
    else:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot read the file {path}: {exc.strerror or exc}") from exc
        except (UnicodeError, ValueError) as exc:  # not UTF-8 inside, or a name no file can have
            raise UsageError(f"cannot read the file {path[:80]!r}: {exc}") from exc
        suffix = Path(path).suffix.lower()
    if suffix in (".yaml", ".yml") or (not suffix and not text.lstrip().startswith(("{", "["))):
        try:
            import yaml
        except ImportError as exc:  # pragma: no cover - pyyaml is a test dependency
            raise UsageError("reading YAML needs PyYAML: pip install 'tether[yaml]'") from exc
        try:
            return yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise UsageError(f"{path} is not valid YAML: {exc}") from exc
    return _parse_literal(text, where=path)


def _parse_literal(text: str, *, where: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        pass
    try:
        return _literal(text.strip())
    except (ValueError, SyntaxError, MemoryError, RecursionError) as exc:
        raise UsageError(f"{where} is neither JSON nor a Python literal: {exc}") from exc


def read_text(path: str, *, binary: bool = False) -> Any:
    """The text (``binary``: the bytes) of ``path`` (``-``: stdin); :class:`UsageError` when it
    cannot be read."""
    if path == "-":
        return sys.stdin.buffer.read() if binary else sys.stdin.read()
    try:
        return Path(path).read_bytes() if binary else Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read the file {path}: {getattr(exc, 'strerror', None) or exc}") from exc


def parse_data(arg: str, *, where: str = "the argument") -> Any:
    """JSON or a Python literal, or ``@file`` (JSON/YAML; ``@-`` stdin): a request body, a file of
    permissions."""
    return _load_file(arg) if arg.startswith("@") else _parse_literal(arg, where=where)


def parse_items(tokens: list[str], *, stdin_text: str | None = None) -> list[dict[str, Any]]:
    """Every item the tokens describe: one for shorthand/literal, one or more for ``@file``."""
    try:
        return _parse_items(tokens, stdin_text)
    except RecursionError:  # a value nested hundreds deep: no plan takes that
        raise UsageError("the plan's arguments are nested too deeply to read") from None


def _parse_items(tokens: list[str], stdin_text: str | None) -> list[dict[str, Any]]:
    if not tokens:
        raise UsageError("no plan given: name a plan (count det1,det2 num=3), a JSON item, or @file")
    first = tokens[0]
    if first.startswith("@"):
        if len(tokens) > 1:
            raise UsageError("@file takes no further arguments")
        data = _load_file(first, stdin_text)
        items = data if isinstance(data, list) else [data]
        if not items:
            raise UsageError(f"{first[1:]} holds no items")
        return [normalize_item(obj, where=f"item {i + 1} of {first[1:]}") for i, obj in enumerate(items)]
    if first.lstrip().startswith("{"):
        if len(tokens) > 1:
            raise UsageError("a JSON/literal item takes no further arguments")
        return [normalize_item(_parse_literal(first, where="the item"))]
    return [parse_shorthand(tokens)]


def parse_item(tokens: list[str], *, stdin_text: str | None = None) -> dict[str, Any]:
    """Exactly one item (see :func:`parse_items`)."""
    items = parse_items(tokens, stdin_text=stdin_text)
    if len(items) != 1:
        raise UsageError(f"expected one plan, got {len(items)} (use add for several)")
    return items[0]


# -- plans from a file (``tether qserver add --file``) -------------------------------------------------
def read_plan_file(path: str) -> list[tuple[str, dict[str, Any]]]:
    """The items of a file of plans, each with where it is (``plans.csv:3``), all read before any
    is checked or sent; :class:`UsageError` naming ``file:line`` for a row that cannot be read.

    - ``.csv``: a header row, then one plan a row. The ``plan`` column names the plan; an ``args``
      column (optional) holds its positional arguments, comma-separated (``'det1', 'motor', -1, 1``,
      as the queue server's own spreadsheets write them); every other column is a keyword argument.
      Each cell is read as a value on the command line is (a Python/JSON literal, ``a,b`` a list, a
      bare word a string); empty cells are left out, and so are rows with no plan.
    - ``.yaml``/``.yml``/``.json``: one item or a list of items (``{name, args, kwargs}``), or
      the shorthand of the command line as a string (``count det1, num=3``).
    """
    suffix = Path(path).suffix.lower()
    if path == "-" or suffix not in (".csv", ".yaml", ".yml", ".json"):
        raise UsageError(f"--file takes a .csv, .yaml, .json (or .xlsx) file of plans, not {path!r}")
    text = read_text(path)
    name = Path(path).name
    if suffix == ".csv":
        return _csv_items(text, name)
    return _document_items(text, name, suffix)


def _csv_items(text: str, name: str) -> list[tuple[str, dict[str, Any]]]:
    import csv
    import io

    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise UsageError(f"{name} is empty: a header row was expected") from None
    except csv.Error as exc:
        raise UsageError(f"{name}:1: {exc}") from None
    if "plan" not in header:
        raise UsageError(
            f"{name}:1: no 'plan' column in the header {header}",
            hint="the first row names the columns: plan, then args and keyword arguments (num, delay …)",
        )
    dup = sorted({h for h in header if h and header.count(h) > 1})
    if dup or "" in header:
        raise UsageError(f"{name}:1: " + (f"columns {dup} appear twice" if dup else "a column has no name"))
    items = []
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            raise UsageError(f"{name}:{reader.line_num}: {exc}") from None
        where = f"{name}:{reader.line_num}"
        if not any(cell.strip() for cell in row):
            continue
        if len(row) > len(header):
            raise UsageError(f"{where}: {len(row)} cells, but the header names {len(header)} columns")
        cells = {h: c.strip() for h, c in zip(header, row, strict=False) if c.strip()}
        plan = cells.pop("plan", None)
        if plan is None:
            raise UsageError(f"{where}: no plan named in the 'plan' column")
        args = _csv_args(cells.pop("args"), where) if "args" in cells else []
        try:
            kwargs = {k: parse_value(v) for k, v in cells.items()}
            items.append((where, _named_item(plan, list(args), kwargs, where)))
        except RecursionError:
            raise UsageError(f"{where}: a value is nested too deeply to read") from None
        except UsageError as exc:
            raise UsageError(f"{where}: {exc.message}", hint=exc.hint) from None
    if not items:
        raise UsageError(f"{name} holds no plans (only its header)")
    return items


def _csv_args(cell: str, where: str) -> list[Any]:
    """An ``args`` cell: comma-separated Python literals (``['det1'], 'motor', -1, 1``), or failing
    that, comma-separated command-line values (``det1, motor, -1, 1``: bare words are strings)."""
    try:
        return list(_literal(f"({cell},)"))
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        pass
    try:
        return [parse_value(part.strip()) for part in cell.split(",")]
    except (UsageError, RecursionError):
        raise UsageError(
            f"{where}: cannot read the args {cell!r}",
            hint="comma-separated Python literals; quote a list's names: ['det1', 'det2'], motor, -1, 1",
        ) from None


def _named_item(plan: str, args: list[Any], kwargs: dict[str, Any], where: str) -> dict[str, Any]:
    plan = plan.strip("'\"")  # the server's spreadsheets quote plan names
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", plan):
        raise UsageError(f"{plan!r} is not a plan name (expected an identifier such as count)")
    return normalize_item({"name": plan, "args": args, "kwargs": kwargs}, where=where)


def _document_items(text: str, name: str, suffix: str) -> list[tuple[str, dict[str, Any]]]:
    """The items of a YAML or JSON file, each with the line it starts on."""
    try:
        import yaml
    except ImportError as exc:  # pragma: no cover - pyyaml is a dependency of the test extra
        raise UsageError("reading YAML needs PyYAML: pip install 'tether[yaml]'") from exc
    lines: list[int] = []
    try:
        data = json.loads(text) if suffix == ".json" else yaml.safe_load(text)
        node = yaml.compose(text)  # JSON is YAML for line numbers' sake; a tab in JSON is not: none then
        if isinstance(node, yaml.SequenceNode):
            lines = [n.start_mark.line + 1 for n in node.value]
    except (ValueError, RecursionError) as exc:
        raise UsageError(f"{name} is not valid JSON: {exc}") from None
    except yaml.YAMLError as exc:
        if suffix != ".json":
            raise UsageError(f"{name} is not valid YAML: {exc}") from None
    entries = data if isinstance(data, list) else [data]
    if not entries or data is None:
        raise UsageError(f"{name} holds no plans")
    items = []
    for i, entry in enumerate(entries):
        where = f"{name}:{lines[i]}" if i < len(lines) else f"{name} (item {i + 1})"
        try:
            if isinstance(entry, str):
                item = parse_shorthand(entry.split())
            else:
                item = normalize_item(entry, where=where)
        except RecursionError:
            raise UsageError(f"{where}: a value is nested too deeply to read") from None
        except UsageError as exc:
            msg = exc.message if exc.message.startswith(where) else f"{where}: {exc.message}"
            raise UsageError(msg, hint=exc.hint) from None
        items.append((where, item))
    return items


# -- validation -------------------------------------------------------------------------------
def _suggest(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=3)
    return f" (did you mean {', '.join(close)}?)" if close else ""


def _annotation(param: Mapping[str, Any]) -> str:
    """The parameter's annotation as the server writes it (``"int | None"``), or ``""``."""
    ann = param.get("annotation")
    return str(ann.get("type") or "") if isinstance(ann, Mapping) else ""


def _device_param(param: Mapping[str, Any]) -> tuple[bool, bool]:
    """(takes devices, devices only) from a parameter's annotation."""
    ann = _annotation(param)
    marks = (*_DEVICE_MARKS, *_device_enums(param))
    has = any(m in ann for m in marks)
    return has, has and "Any" not in ann and "str" not in ann


def _device_enums(param: Mapping[str, Any]) -> list[str]:
    """The names a startup profile gives lists of devices in a parameter's annotation
    (``{"type": "typing.List[Motors]", "devices": {"Motors": ["motor1", "motor2"]}}``)."""
    ann = param.get("annotation")
    enums = ann.get("devices") if isinstance(ann, Mapping) else None
    return [str(k) for k in enums] if isinstance(enums, Mapping) else []


# -- argument types, read from the annotations the server sends (``int | None``,
# ``collections.abc.Sequence[__READABLE__]``, ``typing.List[float]`` …). Only what is understood
# whole is refused; anything else (a site's enum, ``typing.Any``, a device) is left to the server.
_UNKNOWN = object()
_NUMBERS = {"int", "float", "complex", "numbers.Number", "numbers.Real", "numbers.Integral"}
_LISTS = (
    "list", "typing.List", "collections.abc.Sequence", "typing.Sequence", "collections.abc.Iterable",
    "typing.Iterable", "collections.abc.Collection", "collections.abc.MutableSequence",
)  # fmt: skip
_MAPS = ("dict", "typing.Dict", "collections.abc.Mapping", "typing.Mapping", "typing.MutableMapping")


def _split_top(text: str, sep: str) -> list[str]:
    """``text`` split on ``sep`` outside brackets."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        depth += ch == "["
        depth -= ch == "]"
        if ch == sep and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    return [p.strip() for p in [*parts, text[start:]]]


def _alternatives(ann: str) -> list[str]:
    """The members of a union: ``int | None`` and ``typing.Optional[int]`` -> ``["int", "None"]``."""
    out = []
    for alt in _split_top(ann, "|"):
        base, _, inner = alt.partition("[")
        if base in ("typing.Optional", "Optional") and inner.endswith("]"):
            out += [*_alternatives(inner[:-1]), "None"]
        elif base in ("typing.Union", "Union") and inner.endswith("]"):
            for member in _split_top(inner[:-1], ","):
                out += _alternatives(member)
        else:
            out.append(alt)
    return out


def _fits(value: Any, ann: str) -> bool | object:
    """True/False when ``value`` does/does not fit ``ann``; ``_UNKNOWN`` when ``ann`` is not understood."""
    verdicts = [_fits_one(value, alt) for alt in _alternatives(ann)]
    if any(v is True for v in verdicts):
        return True
    return _UNKNOWN if any(v is _UNKNOWN for v in verdicts) else False


def _fits_one(value: Any, ann: str) -> bool | object:
    base, _, inner = ann.partition("[")
    inner = inner[:-1] if inner.endswith("]") else ""
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    if base in ("None", "NoneType"):
        return value is None
    if base == "int":  # as pydantic's lax mode: 3.0 is an int, 3.5 is not
        return number and float(value).is_integer()
    if base in _NUMBERS:
        return number
    if base == "str":
        return isinstance(value, str)
    if base == "bool":
        return isinstance(value, bool)
    if base in _MAPS:
        return isinstance(value, dict)
    if base in _LISTS:
        if not isinstance(value, list):  # refused when the items' type is understood (a site's enum is not)
            return False if _fits_one(None, inner or "typing.Any") is not _UNKNOWN else _UNKNOWN
        if not inner:
            return True
        verdicts = [_fits(v, inner) for v in value]
        return False if False in verdicts else True if all(v is True for v in verdicts) else _UNKNOWN
    return _UNKNOWN  # Any, a device marker, a tuple (bluesky's *args), a site's type: the server judges


def _check_type(plan: str, param: Mapping[str, Any], value: Any, *, each: bool = False) -> None:
    """:class:`UsageError` naming the parameter when ``value`` (``each``: every value of a ``*args``)
    plainly does not fit its annotation."""
    ann = _annotation(param)
    if not ann:
        return
    for v in value if each and isinstance(value, list) else [value]:
        if _fits(v, ann) is False:
            raise UsageError(
                f"{plan}: {param['name']!r} takes {ann}, not {v!r}",
                hint=f"give {param['name']} a value of that type (tether qserver plans {plan} describes it)",
            )


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def _has_default(param: Mapping[str, Any]) -> bool:
    return "default" in param or param.get("is_optional") is True


def _param_kind(plan: str, param: Mapping[str, Any]) -> int:
    """The parameter's kind (inspect's 0-4), or :class:`ProtocolError`: the description is the
    server's data, and a malformed one is its fault, said as such (never a bare ValueError)."""
    kind = param.get("kind") or {}
    value = kind.get("value", 1) if isinstance(kind, Mapping) else None
    if type(value) is not int or not 0 <= value <= 4:
        from tether.errors import ProtocolError

        raise ProtocolError(
            f"the queue server describes parameter {param.get('name')!r} of plan {plan!r} with the kind"
            f" {str(kind)[:80]!r}, which is none of Python's parameter kinds"
        )
    return value


def validate_item(item: Mapping[str, Any], plans: Mapping[str, Any], devices: Iterable[str]) -> dict:
    """``item`` as it will be sent, or :class:`UsageError` if it names an unknown plan, an unknown
    or missing parameter, an unknown device, or a value its parameter's annotation plainly refuses
    (``num=abc`` for ``int``). ``plans`` is ``plans_allowed`` (full form, with annotations),
    ``devices`` the names in ``devices_allowed``.

    A lone device name where a list of devices is expected (``count det1``) becomes a one-item list
    (``["det1"]``), as a user means it: ``add``, ``run`` and their ``--dry-run`` all send that."""
    item = {**item}
    if item.get("item_type", "plan") != "plan":
        return item
    name = item["name"]
    if not plans:
        raise UsageError(
            "the server allows no plans yet",
            hint="open the environment first (tether qserver env open --wait); it loads the plan list",
        )
    if name not in plans:
        raise UsageError(
            f"unknown plan {name!r}{_suggest(name, plans)}",
            hint="allowed plans: " + ", ".join(sorted(plans)),
        )
    spec = plans[name] if isinstance(plans[name], Mapping) else {}
    params = [
        p for p in spec.get("parameters") or [] if isinstance(p, Mapping) and isinstance(p.get("name"), str)
    ]
    kind = {p["name"]: _param_kind(name, p) for p in params}
    positional = [p for p in params if kind[p["name"]] in _POSITIONAL]
    var_pos = next((p for p in params if kind[p["name"]] == _VAR_POSITIONAL), None)
    var_kw = any(kind[p["name"]] == _VAR_KEYWORD for p in params)
    by_name = {p["name"]: p for p in params}
    args, kwargs = list(item.get("args", [])), dict(item.get("kwargs", {}))
    bound: dict[str, Any] = {}
    where: dict[str, tuple[str, Any]] = {}  # a parameter's place in the item: ("args", i) or ("kwargs", key)
    for i, value in enumerate(args):
        if i < len(positional):
            bound[positional[i]["name"]] = value
            where[positional[i]["name"]] = ("args", i)
        elif var_pos is not None:
            bound.setdefault(var_pos["name"], []).append(value)
        else:
            raise UsageError(
                f"{name} takes at most {len(positional)} positional argument(s), got {len(args)}"
            )
    named = [p["name"] for p in params if kind[p["name"]] in (1, _KEYWORD_ONLY)]
    for key, value in kwargs.items():
        if key not in named:
            if var_kw:
                continue
            raise UsageError(
                f"{name} has no parameter {key!r}{_suggest(key, named)}",
                hint=f"{name} takes: {', '.join(named) or '(no keyword arguments)'}",
            )
        if key in bound:
            raise UsageError(f"{name}: {key!r} given both by position and by name")
        bound[key] = value
        where[key] = ("kwargs", key)
    missing = [
        p["name"]
        for p in params
        if kind[p["name"]] not in (_VAR_POSITIONAL, _VAR_KEYWORD)
        and p["name"] not in bound
        and not _has_default(p)
    ]
    if missing:
        raise UsageError(
            f"{name} needs {', '.join(missing)}", hint=f"{name} takes: {', '.join(p['name'] for p in params)}"
        )
    device_names = set(devices)
    for key, value in bound.items():
        param = by_name[key]
        _, only = _device_param(param)
        ann = _annotation(param)
        if only and isinstance(value, str) and ann.startswith(_SEQUENCES) and key in where:
            value = bound[key] = [value]  # a lone device where a list is expected: a one-item list
            part, at = where[key]
            if part == "args":
                args[at] = value
            else:
                kwargs[at] = value
        if not only:
            # "device or anything" (mv's args): any value may be legitimate, so leave it to the server
            _check_type(name, param, value, each=kind[key] == _VAR_POSITIONAL)
            continue
        for word in _strings(value):
            root = word.split(".", 1)[0]
            if root not in device_names:
                raise UsageError(
                    f"{name}: unknown device {word!r} for {key!r}{_suggest(root, device_names)}",
                    hint="allowed devices: " + ", ".join(sorted(device_names)),
                )
    if args:
        item["args"] = args
    if kwargs:
        item["kwargs"] = kwargs
    return item
