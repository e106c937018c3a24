"""The synthetic decomposition world: problems, and the teacher, answerer and judge that play in it."""
