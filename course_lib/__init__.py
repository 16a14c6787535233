"""course_lib: the small numpy package behind the workbook."""
