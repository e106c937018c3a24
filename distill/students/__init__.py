"""Students: small causal LMs that learn to decompose problems."""

from distill.students.student import Episode, Student, student_folder

__all__ = ["Episode", "Student", "student_folder"]
