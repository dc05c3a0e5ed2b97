package io.vtrack.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

class TextsTest {
  @Test
  void aShortTextIsKeptWhole() {
    assertEquals("abc", Texts.abbreviate("abc", 3));
    assertEquals("", Texts.abbreviate(null, 3));
  }

  @Test
  void aLongTextKeepsItsFirstCharactersAndSaysItWasCut() {
    assertEquals("abc…", Texts.abbreviate("abcd", 3));
  }

  @Test
  void aCutNeverSplitsACharacterOutsideTheBasicPlane() {
    // "ab" then U+1F600 (two UTF-16 units): a cut after 3 units would leave half of it.
    String s = "ab\uD83D\uDE00cd";
    assertEquals("ab…", Texts.abbreviate(s, 3));
    assertEquals("ab\uD83D\uDE00…", Texts.abbreviate(s, 4));
  }
}
