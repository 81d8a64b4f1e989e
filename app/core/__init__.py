"""The ground floor: settings, the job lifecycle, messages, languages. Imports nothing else of the app."""
