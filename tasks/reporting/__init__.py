"""What a run shows people: the summary (`summary`), staging progress (`progress`), and the
song-play report's HTML (`html`)."""
