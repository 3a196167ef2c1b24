"""The one definition of a valid lake record (`fields`), the staging SQL rendered from it
(`sql`), and the text repair it applies (`text_repair`)."""
