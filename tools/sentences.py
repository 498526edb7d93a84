"""English test sentences for espeak-ng speech: bilabials and labiodentals in every context,
numbers and abbreviations, rhotic and reduced vowels. One list for the tests and benches that
synthesise them (tests/test_espeak.py, tests/test_emotion.py, bench/emotion_constraints.py)."""

LIP_SENTENCES: tuple[str, ...] = (
    "Maybe we could move five big boxes before the party.",
    "Is it true that Dr. Johnson paid $42.50 for 3 tickets on June 5th, 1998?",
    "The quick brown fox jumps over the lazy dog.",
    "She sells seashells by the seashore; the shells she sells are surely seashells.",
    "Thirty thousand feathers thoroughly ruffled the leather chair in the hourglass tower.",
    "Would you join our choir? Usually, the genre of music is pleasure and leisure.",
    "Why, oh why, did Ophelia's younger brother buy a yellow yo-yo in New York City?",
    "Hmm, well... I'd rather not: the weather's awful, and there are four hundred miles to go.",
    "Fire, hour, tour, poor, pure, our, where, here, there, bird, word, heard.",
    "Little kittens button their mittens; the bottle of water is in the battle kitchen.",
)
