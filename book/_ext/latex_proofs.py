"""Sphinx extension: exercises and solutions keep their text in the PDF (LaTeX builder only).

sphinx-exercise wraps the body of each {exercise} and {solution} in a docutils `section` inside the
admonition. The HTML writer renders that in place; the LaTeX writer cannot nest a section in an
environment, so it closed every admonition empty and printed all the bodies after the last one (the
PDF showed eight empty exercise boxes, then the text of all of them). Before the LaTeX writer runs,
this replaces each such section by its children, so each body sits inside its own box, numbered as
in the HTML ("Exercise 3 (A readout entropy from four logits)").

    exercise_node[title, section[paragraph, math]]  ->  exercise_node[title, paragraph, math]

sphinx-proof's theorems, definitions and proofs are plain admonition-like nodes and need nothing.
"""
from __future__ import annotations

from docutils import nodes
from sphinx.transforms.post_transforms import SphinxPostTransform


def _is_exercise_or_solution(node) -> bool:
    return type(node).__module__.startswith("sphinx_exercise") and type(node).__name__ in (
        "exercise_node", "exercise_enumerable_node", "solution_node")


class UnwrapExerciseSections(SphinxPostTransform):
    default_priority = 1  # before sphinx-exercise resolves titles and numbers (priority 20)
    formats = ("latex",)

    def run(self, **kwargs) -> None:
        for node in list(self.document.findall(_is_exercise_or_solution)):
            for child in list(node.children):
                if isinstance(child, nodes.section):
                    child.replace_self(child.children)


def setup(app):
    app.add_post_transform(UnwrapExerciseSections)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
