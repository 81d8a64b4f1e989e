"""Pictures and videos on disk: uploaded images, the archive of videos and posters, serving them."""
