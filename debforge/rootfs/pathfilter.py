"""dpkg's --path-exclude/--path-include filters: which paths of a package an image leaves out."""

from __future__ import annotations

import re
from dataclasses import dataclass
from fnmatch import fnmatchcase


@dataclass(frozen=True, slots=True, kw_only=True)
class PathFilter:
    """An ordered list of (include?, glob) rules with dpkg's meaning (dpkg(1), --path-exclude).

    Every path is included unless a rule matches it; the last matching rule decides. The glob is
    fnmatch(3) without FNM_PATHNAME, as dpkg calls it: `*` also matches `/`.

    >>> f = PathFilter(rules=((False, "/usr/share/doc/*"), (True, "/usr/share/doc/*/copyright")))
    >>> f.skips("/usr/share/doc/bash/README.gz"), f.skips("/usr/share/doc/bash/copyright")
    (True, False)
    >>> f.skips("/usr/bin/bash")
    False
    """

    rules: tuple[tuple[bool, str], ...]

    def skips(self, path: str) -> bool:
        """True when dpkg, given these rules, would not unpack `path` (an absolute package path)."""
        for include, pattern in reversed(self.rules):
            if fnmatchcase(path, pattern):
                return not include
        return False

    def skips_dir(self, path: str) -> bool:
        """True when dpkg would not make the directory (or symlink) `path`: excluded, and no include rule
        could match below it, judged as dpkg does by the rule's text before its first wildcard
        (src/main/filters.c).

        >>> f = PathFilter(rules=((False, "/usr/share/*"), (True, "/usr/share/doc/*/copyright")))
        >>> f.skips_dir("/usr/share/doc/bash"), f.skips_dir("/usr/share/man/man1")
        (False, True)
        """
        if not self.skips(path):
            return False
        for include, pattern in self.rules:
            literal = re.split(r"[*?\[\\]", pattern, maxsplit=1)[0]
            if include and path[: len(literal)] == literal[: len(path)]:
                return False
        return True

    def dpkg_cfg(self) -> str:
        """The rules as a dpkg.cfg.d snippet, so dpkg inside the image keeps filtering later installs."""
        return "".join(f"path-{'include' if inc else 'exclude'} {pattern}\n" for inc, pattern in self.rules)


# What Debian's own slim container images leave out (debuerreotype's `--slimify` list): nobody reads
# documentation, manual pages or translations in a container. Each package's copyright file stays
# (Policy 12.5 asks that it ships with the package), and so does locale.alias, which libc reads.
NO_DOCS = PathFilter(
    rules=(
        (False, "/usr/share/doc/*"),
        (True, "/usr/share/doc/*/copyright"),
        (False, "/usr/share/man/*"),
        (False, "/usr/share/groff/*"),
        (False, "/usr/share/info/*"),
        (False, "/usr/share/lintian/overrides/*"),
        (False, "/usr/share/linda/*"),
        (False, "/usr/share/locale/*"),
        (True, "/usr/share/locale/locale.alias"),
    )
)
