"""What a benchmark reports: figures (the app's value, its counterpart's, the ratio, the goal, whether it
is met) and notes, and how they are printed as a table."""

from dataclasses import dataclass, field


@dataclass
class Figure:
    name: str
    app: str
    counterpart: str = "—"
    ratio: "float | None" = None
    goal: str = "—"
    met: "bool | None" = None  # None: a figure shown for information, with no goal of its own

    @property
    def verdict(self):
        return "—" if self.met is None else ("yes" if self.met else "NO")

    def cells(self):
        ratio = "—" if self.ratio is None else f"{self.ratio:.2f}"
        return [self.name, self.app, self.counterpart, ratio, self.goal, self.verdict]


@dataclass
class Result:
    title: str
    figures: list = field(default_factory=list)
    notes: list = field(default_factory=list)

    def add(self, *args, **kwargs):
        self.figures.append(Figure(*args, **kwargs))


HEADINGS = ["figure", "app", "counterpart", "ratio", "goal", "met"]


def text_table(figures):
    rows = [HEADINGS] + [f.cells() for f in figures]
    widths = [max(len(r[i]) for r in rows) for i in range(len(HEADINGS))]
    return ["  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows]


def markdown_table(figures):
    def row(cells):
        return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"

    return [row(HEADINGS), row(["---"] * len(HEADINGS))] + [row(f.cells()) for f in figures]


def mb_per_s(n_bytes, seconds):
    return n_bytes / seconds / 1e6 if seconds > 0 else 0.0


def run_alone(main):
    """`python -m bench.<name>_bench`: one benchmark's table and notes."""
    result = main()
    print("\n".join([result.title, *text_table(result.figures), *result.notes]))
