"""Where the project's own files are: templates, static files, translations, data files."""

import os

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
