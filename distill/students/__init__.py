"""Students: small causal LMs that learn to decompose problems."""

from distill.students.student import Episode, Student

__all__ = ["Episode", "Student"]
