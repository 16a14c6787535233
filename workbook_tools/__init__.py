"""workbook_tools: everything around the lesson.

``course_lib`` holds the course itself (numpy and the standard library only);
this package holds what serves the notebooks: live panels, plots, MNIST
downloads, PDF export, sweeps, exercise checks and the fast training path. It
may import ``course_lib``; ``course_lib`` never imports it.
"""
